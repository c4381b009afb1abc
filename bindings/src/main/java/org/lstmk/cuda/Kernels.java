package org.lstmk.cuda;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.lstmk.api.MatmulPrecision;

/**
 * Typed launches of the kernels in kernels-cuda/src/main/cuda/lstm_kernels.cu: argument lists in the kernels'
 * order, grids from the tile shapes the kernels were built with ({@link KernelGeometry}). Each method documents
 * the kernel it launches; the kernel's comment in the .cu file is the specification.
 */
final class Kernels {
    /**
     * System property lowering the cap on gridDim.y below CUDA's 65535 (read when a backend opens). The kernels
     * grid-stride over y, so any cap gives the same results; tests set it to 1 to make those loops iterate.
     */
    static final String MAX_GRID_Y_PROPERTY = "lstmk.cuda.maxGridY";
    private static final int CUDA_MAX_GRID_Y = 65535;
    /** Every kernel declares its shared memory statically. */
    private static final int NO_DYNAMIC_SHARED_MEMORY = 0;

    private final int maxGridY = Math.clamp(Integer.getInteger(MAX_GRID_Y_PROPERTY, CUDA_MAX_GRID_Y), 1, CUDA_MAX_GRID_Y);
    private final Device device;
    private final KernelGeometry geometry;
    private final DeviceKernel backwardDh, colsum, pack;
    /** The GEMMs by {@link MatmulPrecision} ordinal, then {@link Gemm} ordinal. */
    private final DeviceKernel[][] gemms;
    /** The step kernels, one per cell variant, indexed by {@link CellArgs#variant()}. */
    private final DeviceKernel[] forwardStep, backwardStep, forwardSequence, backwardSequence;
    /** The forward kernels with the small batch tile ({@code _b4}), for B up to its rows. */
    private final DeviceKernel[] forwardStepSmall, forwardSequenceSmall;
    /** Whether batches that fit the small tile use it ({@link #SMALL_TILE_PROPERTY}). */
    private final boolean smallTile = CudaPaths.on(SMALL_TILE_PROPERTY);

    /**
     * System property: {@code false} keeps small batches on the 16-row forward tile (read when a backend opens; both
     * tiles give the same bits: each output's sum runs over k in the same order).
     */
    static final String SMALL_TILE_PROPERTY = "lstmk.cuda.smallBatchTile";

    /** Where launches go while {@link #record} runs, else null (they go to the device). */
    private List<LaunchChain.Launch> recording;

    Kernels(Device device) {
        this.device = device;
        this.geometry = KernelGeometry.load();
        gemms = new DeviceKernel[MatmulPrecision.values().length][Gemm.values().length];
        for (MatmulPrecision p : MatmulPrecision.values()) {
            String suffix = p == MatmulPrecision.FP32 ? "" : "_" + p.name().toLowerCase(Locale.ROOT);
            for (Gemm g : Gemm.values()) {
                gemms[p.ordinal()][g.ordinal()] = device.kernel(
                        "lstmk_gemm_" + g.name().toLowerCase(Locale.ROOT) + suffix);
            }
        }
        forwardStep = new DeviceKernel[CellArgs.VARIANT_SUFFIXES.length];
        backwardStep = new DeviceKernel[CellArgs.VARIANT_SUFFIXES.length];
        forwardSequence = new DeviceKernel[CellArgs.VARIANT_SUFFIXES.length];
        backwardSequence = new DeviceKernel[CellArgs.VARIANT_SUFFIXES.length];
        forwardStepSmall = new DeviceKernel[CellArgs.VARIANT_SUFFIXES.length];
        forwardSequenceSmall = new DeviceKernel[CellArgs.VARIANT_SUFFIXES.length];
        for (int v = 0; v < forwardStep.length; v++) {
            forwardStep[v] = device.kernel("lstmk_lstm_forward_step" + CellArgs.VARIANT_SUFFIXES[v]);
            forwardSequence[v] = device.kernel("lstmk_lstm_forward_sequence" + CellArgs.VARIANT_SUFFIXES[v]);
            backwardSequence[v] = device.kernel("lstmk_lstm_backward_sequence" + CellArgs.VARIANT_SUFFIXES[v]);
            forwardStepSmall[v] = device.kernel("lstmk_lstm_forward_step_b4" + CellArgs.VARIANT_SUFFIXES[v]);
            forwardSequenceSmall[v] = device.kernel("lstmk_lstm_forward_sequence_b4" + CellArgs.VARIANT_SUFFIXES[v]);
            backwardStep[v] = device.kernel("lstmk_lstm_backward_step" + CellArgs.VARIANT_SUFFIXES[v]);
        }
        backwardDh = device.kernel("lstmk_lstm_backward_dh");
        colsum = device.kernel("lstmk_colsum");
        pack = device.kernel("lstmk_pack_gate_rows");
    }

    /**
     * The launches that {@code launches} makes through this object, recorded instead of issued, for
     * {@link Device#run}. Nothing else may reach the device meanwhile: a copy or fill issued during the recording
     * would run before the recorded launches that precede it.
     */
    LaunchChain record(Runnable launches) {
        if (recording != null) throw new IllegalStateException("already recording a launch chain");
        recording = new ArrayList<>();
        try {
            launches.run();
            return new LaunchChain(recording);
        } finally {
            recording = null;
        }
    }

    private void launch(DeviceKernel kernel, Dim3 grid, Dim3 block, int sharedBytes, KernelArgs args) {
        if (recording == null) device.launch(kernel, grid, block, sharedBytes, args);
        else recording.add(new LaunchChain.Launch(kernel, grid, block, sharedBytes, args));
    }

    /** Which GEMM: the operand layouts of {@code C[M,N] = A·B}. */
    enum Gemm {
        /** {@code A[M,K] · B[N,K]ᵀ} (lda, ldb: row lengths of A and B). */
        NT,
        /** {@code A[M,K] · B[K,N]}. */
        NN,
        /** {@code A[K,M]ᵀ · B[K,N]}. */
        TN
    }

    /**
     * {@code C = A·B (+ bias) (+ beta·C)}; with {@code cRowGateH = H > 0} output row m is packed gate row m and lands
     * at its PyTorch row. {@code beta == 0} never reads C.
     */
    void gemm(Gemm op, int m, int n, int k, DevicePointer a, long lda, DevicePointer b, long ldb, DevicePointer bias,
              float beta, DevicePointer c, long ldc, int cRowGateH) {
        gemm(op, MatmulPrecision.FP32, m, n, k, a, lda, b, ldb, bias, beta, c, ldc, cRowGateH);
    }

    /**
     * As {@link #gemm(Gemm, int, int, int, DevicePointer, long, DevicePointer, long, DevicePointer, float,
     * DevicePointer, long, int)}, on tensor cores for {@link MatmulPrecision#TF32} and {@link MatmulPrecision#BF16}
     * ({@code lstmk_gemm_*_tf32}, {@code _bf16}: the same grid, block and arguments).
     */
    void gemm(Gemm op, MatmulPrecision precision, int m, int n, int k, DevicePointer a, long lda, DevicePointer b,
              long ldb, DevicePointer bias, float beta, DevicePointer c, long ldc, int cRowGateH) {
        KernelGeometry.Tile t = geometry.gemm();
        DeviceKernel kernel = gemms[precision.ordinal()][op.ordinal()];
        launch(kernel, Dim3.of(blocks(m, t.m()), Math.min(blocks(n, t.n()), maxGridY)), Dim3.of(t.threads()),
                NO_DYNAMIC_SHARED_MEMORY,
                new KernelArgs().i32(m).i32(n).i32(k).ptr(a).i64(lda).ptr(b).i64(ldb).ptr(bias).f32(beta).ptr(c)
                        .i64(ldc).i32(cRowGateH));
    }

    /**
     * One fused forward step for {@code batch} rows: pre-activations {@code hPrev·W_hhᵀ + gx} ({@code hPrev} and the
     * rows of {@code wHh} are {@code k = H_out} wide), the cell of {@code cell}'s variant, {@code m_t = o·tanh(c_t)}
     * into {@code y} (and {@code hOut}): h_t without projection, the projection's input with it; {@code c} updated
     * in place, optionally the activations and copies of {@code h_{t-1}}, {@code c_{t-1}} saved for backward.
     */
    /** The forward tile for {@code batch} rows: the small one when they fit it (and it is not turned off). */
    private KernelGeometry.Tile forwardTile(int batch) {
        return smallTile && batch <= geometry.forwardSmall().m() ? geometry.forwardSmall() : geometry.forward();
    }

    /** The grid of a forward step (and of the persistent forward): packed gate-column tiles × batch tiles. */
    private Dim3 forwardGrid(int hidden, int batch) {
        KernelGeometry.Tile t = forwardTile(batch);
        return Dim3.of(blocks(4L * hidden, t.n()), Math.min(blocks(batch, t.m()), maxGridY));
    }

    /** The kernel of {@code variants} (16-row tile) or {@code small} ({@code _b4}) for this batch and cell. */
    private DeviceKernel forwardKernel(DeviceKernel[] variants, DeviceKernel[] small, CellArgs cell, int batch) {
        return (forwardTile(batch) == geometry.forwardSmall() ? small : variants)[cell.variant()];
    }

    /** Batch rows of a forward step's block tile. */
    int forwardBatchTile() {
        return geometry.forward().m();
    }

    /**
     * Whether {@link #forwardSequence} can run this shape: its grid fits on the device at once (a cooperative
     * launch's condition).
     */
    boolean forwardSequenceFits(CellArgs cell, int hidden, int batch) {
        Dim3 g = forwardGrid(hidden, batch);
        return (long) g.x() * g.y() <= device.maxCooperativeBlocks(
                forwardKernel(forwardSequence, forwardSequenceSmall, cell, batch), forwardTile(batch).threads());
    }

    /**
     * {@link #forwardStep} for all {@code steps} steps of a uniform sequence in one cooperative launch
     * ({@code lstmk_lstm_forward_sequence*}, a persistent grid with a grid sync per step): each {@code Rows} is step
     * 0's and the matching {@code *Step} the floats from one step's first row to the next's; {@code h0} may be
     * {@link Rows#NONE}; {@code hOut} is written at the last step. Bit for bit the step launches.
     */
    void forwardSequence(CellArgs cell, int steps, int batch, int hidden, int k, Rows h0, DeviceBuffer wHh, Rows gx,
                         long gxStep, DeviceBuffer c, Rows y, long yStep, DeviceBuffer hOut, Rows gates, long gatesStep,
                         Rows hSave, long hSaveStep, Rows cSave, long cSaveStep) {
        KernelArgs args = new KernelArgs().i32(steps).i32(batch).i32(hidden).i32(k).ptr(h0.first())
                .i64(h0.strideFloats()).ptr(wHh).ptr(gx.first()).i64(gx.strideFloats()).i64(gxStep).ptr(c)
                .ptr(y.first()).i64(y.strideFloats()).i64(yStep).ptr(hOut).ptr(gates.first())
                .i64(gates.strideFloats()).i64(gatesStep).ptr(hSave.first()).i64(hSave.strideFloats()).i64(hSaveStep)
                .ptr(cSave.first()).i64(cSave.strideFloats()).i64(cSaveStep);
        device.launchCooperative(forwardKernel(forwardSequence, forwardSequenceSmall, cell, batch),
                forwardGrid(hidden, batch), Dim3.of(forwardTile(batch).threads()), NO_DYNAMIC_SHARED_MEMORY,
                cell.appendTo(args));
    }

    /** The grid of a backward step (and of the persistent backward): hidden-unit tiles × batch tiles. */
    private Dim3 backwardGrid(int hidden, int batch) {
        KernelGeometry.Tile t = geometry.backward();
        return Dim3.of(blocks(hidden, t.n()), Math.min(blocks(batch, t.m()), maxGridY));
    }

    /** Whether {@link #backwardSequence} can run this shape: its grid fits on the device at once. */
    boolean backwardSequenceFits(CellArgs cell, int hidden, int batch) {
        Dim3 g = backwardGrid(hidden, batch);
        return (long) g.x() * g.y() <= device.maxCooperativeBlocks(backwardSequence[cell.variant()],
                geometry.backward().threads());
    }

    /**
     * {@link #backwardStep} for all {@code steps} steps of a uniform sequence without projection, last first, in one
     * cooperative launch ({@code lstmk_lstm_backward_sequence*}): {@code dA_{t+1}} as each step's {@code dIn} (none at
     * the last step, whose rows take {@code dhIn}); each {@code Rows} is step 0's and the matching {@code *Step} the
     * floats from one step's first row to the next's. Bit for bit the step launches.
     */
    void backwardSequence(CellArgs cell, int steps, int batch, int hidden, DeviceBuffer w, DeviceBuffer dhIn, Rows dy,
                          long dyStep, Rows gates, long gatesStep, Rows cPrev, long cPrevStep, DeviceBuffer dc,
                          Rows dA, long dAStep, Rows peepRows, long peepRowsStep) {
        KernelArgs args = new KernelArgs().i32(steps).i32(batch).i32(hidden).ptr(w).ptr(dhIn).ptr(dy.first())
                .i64(dy.strideFloats()).i64(dyStep).ptr(gates.first()).i64(gates.strideFloats()).i64(gatesStep)
                .ptr(cPrev.first()).i64(cPrev.strideFloats()).i64(cPrevStep).ptr(dc).ptr(dA.first())
                .i64(dA.strideFloats()).i64(dAStep).ptr(peepRows.first()).i64(peepRows.strideFloats())
                .i64(peepRowsStep);
        device.launchCooperative(backwardSequence[cell.variant()], backwardGrid(hidden, batch),
                Dim3.of(geometry.backward().threads()), NO_DYNAMIC_SHARED_MEMORY, cell.appendTo(args));
    }

    void forwardStep(CellArgs cell, int batch, int hidden, int k, Rows hPrev, DeviceBuffer wHh, Rows gx,
                     DeviceBuffer c, Rows y, DeviceBuffer hOut, Rows gates, boolean gatesPytorchOrder, Rows hSave,
                     Rows cSave) {
        KernelArgs args = new KernelArgs().i32(batch).i32(hidden).i32(k).ptr(hPrev.first()).i64(hPrev.strideFloats())
                .ptr(wHh).ptr(gx.first()).i64(gx.strideFloats()).ptr(c).ptr(y.first()).i64(y.strideFloats())
                .ptr(hOut).ptr(gates.first()).i64(gates.strideFloats()).i32(gatesPytorchOrder ? 1 : 0)
                .ptr(hSave.first()).i64(hSave.strideFloats()).ptr(cSave.first()).i64(cSave.strideFloats());
        launch(forwardKernel(forwardStep, forwardStepSmall, cell, batch), forwardGrid(hidden, batch),
                Dim3.of(forwardTile(batch).threads()), NO_DYNAMIC_SHARED_MEMORY, cell.appendTo(args));
    }

    /**
     * One fused backward step: {@code dm = dIn·w + dhIn + dy} ({@code dIn [dInRows, k]}, {@code w [k, H]}: the
     * recurrent {@code dA_{t+1}·W_hh}, or {@code dh_t·W_hr} with projection), then the gate gradients of
     * {@code cell}'s variant into {@code dA}, {@code dc} updated in place from {@code dc_t} to {@code dc_{t-1}},
     * optionally {@code m_t} into {@code mOut} and the peephole-gradient products into {@code peepRows}. Rows
     * {@code b >= dInRows} (packed sequences at their own last step; every row at a uniform call's last step) have no
     * product and take {@code dhIn} instead; rows below it never read {@code dhIn}.
     */
    void backwardStep(CellArgs cell, int batch, int hidden, int k, Rows dIn, int dInRows, DeviceBuffer w,
                      DeviceBuffer dhIn, Rows dy, Rows gates, boolean gatesPytorchOrder, Rows cPrev, DeviceBuffer dc,
                      Rows dA, Rows mOut, Rows peepRows) {
        KernelGeometry.Tile t = geometry.backward();
        KernelArgs args = new KernelArgs().i32(batch).i32(hidden).i32(k).ptr(dIn.first()).i64(dIn.strideFloats())
                .i32(dIn.first() == null ? 0 : dInRows).ptr(w).ptr(dhIn).ptr(dy.first()).i64(dy.strideFloats()).ptr(gates.first())
                .i64(gates.strideFloats()).i32(gatesPytorchOrder ? 1 : 0).ptr(cPrev.first())
                .i64(cPrev.strideFloats()).ptr(dc).ptr(dA.first()).i64(dA.strideFloats()).ptr(mOut.first())
                .i64(mOut.strideFloats()).ptr(peepRows.first()).i64(peepRows.strideFloats());
        launch(backwardStep[cell.variant()], backwardGrid(hidden, batch), Dim3.of(t.threads()),
                NO_DYNAMIC_SHARED_MEMORY, cell.appendTo(args));
    }

    /**
     * Projection, backward: {@code dh = dANext·W_hh + dhIn + dy} for {@code batch} rows and the {@code out = P}
     * columns of h ({@code dANext [nextRows, 4H]}, {@code wHh} packed {@code [4H, P]}) into the rows {@code dh}; rows
     * {@code b >= nextRows} have no product and take {@code dhIn} instead (as in {@link #backwardStep}).
     */
    void backwardDh(int batch, int out, int hidden, Rows dANext, int nextRows, DeviceBuffer wHh, DeviceBuffer dhIn,
                    Rows dy, Rows dh) {
        KernelGeometry.Tile t = geometry.backward();
        launch(backwardDh, Dim3.of(blocks(out, t.n()), Math.min(blocks(batch, t.m()), maxGridY)),
                Dim3.of(t.threads()), NO_DYNAMIC_SHARED_MEMORY,
                new KernelArgs().i32(batch).i32(out).i32(4 * hidden).ptr(dANext.first()).i64(dANext.strideFloats())
                        .i32(dANext.first() == null ? 0 : nextRows).ptr(wHh).ptr(dhIn).ptr(dy.first()).i64(dy.strideFloats()).ptr(dh.first())
                        .i64(dh.strideFloats()));
    }

    /** {@code out1[n] (and out2[n]) = Σ_m A[m,n] (+ beta·out)}, packed column n landing at its PyTorch row. */
    void biasGradient(int rows, int hidden, DevicePointer dA, float beta, DeviceBuffer out1, DeviceBuffer out2) {
        columnSum(rows, 4 * hidden, dA, 4L * hidden, beta, out1, out2, hidden);
    }

    /**
     * {@code out1[n] (and out2[n], if not null) = Σ_m A[m,n] (+ beta·out)} over {@code rows} rows {@code lda} floats
     * apart; with {@code outGateH = H > 0} packed column n lands at its PyTorch row, with 0 at n.
     */
    void columnSum(int rows, int columns, DevicePointer a, long lda, float beta, DeviceBuffer out1, DeviceBuffer out2,
                   int outGateH) {
        launch(colsum, Dim3.of(blocks(columns, geometry.colsumCols())), Dim3.of(geometry.colsumThreads()),
                NO_DYNAMIC_SHARED_MEMORY,
                new KernelArgs().i32(rows).i32(columns).ptr(a).i64(lda).f32(beta).ptr(out1).ptr(out2).i32(outGateH));
    }

    /** {@code dst [4H, k]} = the rows of {@code src} (+ {@code add}) in packed gate order. */
    void packGateRows(int hidden, int k, DeviceBuffer src, DeviceBuffer add, DeviceBuffer dst) {
        long elements = 4L * hidden * k;
        int threads = geometry.packThreads();
        launch(pack, Dim3.of(Math.min(blocks(elements, threads), 1 << 16)), Dim3.of(threads),
                NO_DYNAMIC_SHARED_MEMORY,
                new KernelArgs().i32(hidden).i32(k).ptr(src).ptr(add).ptr(dst));
    }

    private static int blocks(long n, int tile) {
        long b = (n + tile - 1) / tile;
        if (b > Integer.MAX_VALUE) throw new IllegalArgumentException("problem too large for one launch: " + n);
        return (int) Math.max(b, 1);
    }
}
