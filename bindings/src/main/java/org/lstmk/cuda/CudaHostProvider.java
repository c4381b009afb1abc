package org.lstmk.cuda;

import org.lstmk.api.LstmConfig;
import org.lstmk.spi.Availability;
import org.lstmk.spi.BackendOptions;
import org.lstmk.spi.BackendProvider;
import org.lstmk.spi.LstmBackend;
import org.lstmk.spi.Support;

/**
 * Registers {@code cuda-host}: the CUDA backend with its kernels running on the CPU through their g++ host build
 * ({@link HostDevice}). A test vehicle, not a product backend: it exists so CI checks the kernels and the whole
 * Java launch path against the reference without a GPU. Slow, and never chosen unless forced.
 */
public final class CudaHostProvider implements BackendProvider {
    public static final String NAME = "cuda-host";

    @Override public String name() { return NAME; }

    @Override
    public String description() {
        return "test vehicle: the cuda backend with its CUDA kernels run on the CPU through their g++ host build"
                + " (slow; chosen only when forced)";
    }

    @Override public int priority() { return -100; }

    @Override public boolean autoSelectable() { return false; }

    @Override
    public Availability availability() {
        String reason = HostLibrary.unavailableReason();
        if (reason != null) return Availability.unusable(reason);
        return Availability.usable("CUDA kernels emulated on the CPU (" + HostLibrary.get().kernelCount()
                + " kernels, one fiber per CUDA thread); a test vehicle, not for speed");
    }

    /** The cell features the kernels implement (CudaBackend): projection, peepholes and cell clip, alone or together. */
    @Override
    public Support supports(LstmConfig config) {
        return Support.cellFeatures(NAME, config, true, true, true);
    }

    /** Packed weights live in device memory that every instance's stream may read ({@link CudaBackend}'s threads). */
    @Override
    public boolean sharedWeights() { return true; }

    @Override
    public java.util.List<String> paths() {
        return CudaPaths.describe();
    }

    @Override
    public LstmBackend open(BackendOptions options) {
        return new CudaBackend(NAME, new HostDevice());
    }
}
