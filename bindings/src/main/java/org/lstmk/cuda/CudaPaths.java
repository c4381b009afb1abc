package org.lstmk.cuda;

import java.util.List;

/** The paths the CUDA backend ({@link CudaBackend}) chooses among per call, as {@code lstmk info} lists them. */
final class CudaPaths {
    private CudaPaths() {}

    /** Whether the path that system property {@code property} switches is on: anything but {@code false} (default on). */
    static boolean on(String property) {
        return !"false".equalsIgnoreCase(System.getProperty(property, "true").trim());
    }

    static List<String> describe() {
        return List.of(
                "graphs: each call's launches recorded as one chain and replayed as a CUDA graph, made once per "
                        + "distinct chain (-D" + LaunchChain.GRAPHS_PROPERTY + "=false: one launch each)"
                        + (on(LaunchChain.GRAPHS_PROPERTY) ? "" : " [off]"),
                "persistent: a uniform forward or backward with B <= 16, T > 1 and no projection whose grid fits on "
                        + "the device at once runs all its steps in one cooperative kernel (-D"
                        + CudaBackend.PERSISTENT_PROPERTY + "=false)",
                "small batch: B <= 4 runs the forward steps on a 4-row batch tile (-D" + Kernels.SMALL_TILE_PROPERTY
                        + "=false: the 16-row tile)",
                "tensor cores: LstmConfig.matmulPrecision TF32 or BF16 puts the input projection, dx and the weight "
                        + "gradients on wmma GEMMs (the recurrence stays fp32)",
                "overlapped copies: a time-major or packed call whose sequence copies reach "
                        + StepChunks.DEFAULT_MIN_BYTES / 1024 + " KiB moves x/y (dy/dx) in up to "
                        + StepChunks.MAX_CHUNKS + " chunks of steps on a copy stream beside the kernels (-D"
                        + StepChunks.PROPERTY + "=false)" + (on(StepChunks.PROPERTY) ? "" : " [off]"),
                "host memory: Lstm.allocateHost gives pinned memory, copied without staging; a training forward's x "
                        + "stays on the device for its backward; ACCUMULATE adds gradients as they come down");
    }
}
