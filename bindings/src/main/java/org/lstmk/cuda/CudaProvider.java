package org.lstmk.cuda;

import org.lstmk.api.LstmConfig;
import org.lstmk.spi.Availability;
import org.lstmk.spi.BackendOptions;
import org.lstmk.spi.BackendProvider;
import org.lstmk.spi.LstmBackend;
import org.lstmk.spi.Support;

/**
 * Registers the {@code cuda} backend: the hand-written kernels on an NVIDIA GPU through JCuda. Usable when the
 * build carries the fatbin, JCuda and its natives load, the driver initialises, and the kernels load on device 0.
 * JCuda is linked only inside {@link #availability()}'s guarded probe and {@link #open}, so this class loads on
 * any JVM.
 */
public final class CudaProvider implements BackendProvider {
    public static final String NAME = "cuda";
    private static volatile Availability cached;

    @Override public String name() { return NAME; }

    @Override
    public String description() {
        return "hand-written CUDA kernels (fused LSTM step, tiled fp32 and tensor-core GEMMs) on an NVIDIA GPU through"
                + " JCuda; the paths it chooses per call: lstmk info";
    }

    /** Above the CPU backends: when a GPU is usable, it is the default. */
    @Override public int priority() { return 200; }

    @Override
    public Availability availability() {
        Availability a = cached;
        if (a == null) {
            synchronized (CudaProvider.class) {
                a = cached;
                if (a == null) cached = a = probe();
            }
        }
        return a;
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
        return new CudaBackend(NAME, JCudaDevice.open(0, fatbin()));
    }

    private static byte[] fatbin() {
        byte[] f = KernelResources.bytes(KernelResources.FATBIN);
        if (f == null) throw new IllegalStateException(KernelResources.noFatbinReason());
        return f;
    }

    private static Availability probe() {
        byte[] fatbin = KernelResources.bytes(KernelResources.FATBIN);
        if (fatbin == null) return Availability.unusable(KernelResources.noFatbinReason());
        try {
            Class.forName("jcuda.driver.JCudaDriver", false, CudaProvider.class.getClassLoader());
        } catch (ClassNotFoundException e) {
            return Availability.unusable("JCuda is not on the class path (org.jcuda:jcuda 12.6.0)");
        }
        try {
            return JCudaProbe.probe(fatbin);
        } catch (UnsatisfiedLinkError e) {
            return Availability.unusable(linkFailure(e));
        } catch (NoClassDefFoundError e) {
            // JCudaDriver's static initialiser failed before in this JVM: the first failure said why.
            return Availability.unusable("no CUDA driver or no JCuda natives (" + firstLine(e.getMessage()) + ")");
        } catch (RuntimeException | LinkageError e) {
            return Availability.unusable("probing the GPU failed: " + firstLine(String.valueOf(e)));
        }
    }

    /** What a failure to load JCuda's driver binding means for the user. */
    static String linkFailure(UnsatisfiedLinkError e) {
        String all = describeChain(e);
        if (all.contains("libcuda.so")) {
            return "no CUDA driver: libcuda.so.1 not found (JCuda's driver binding needs the NVIDIA driver)";
        }
        return "no JCuda natives for this platform (org.jcuda:jcuda-natives 12.6.0, classifier linux-x86_64): "
                + firstLine(e.getMessage());
    }

    private static String describeChain(Throwable t) {
        StringBuilder s = new StringBuilder();
        for (Throwable c = t; c != null; c = c.getCause()) s.append(c.getMessage()).append('\n');
        return s.toString();
    }

    private static String firstLine(String s) {
        if (s == null) return "";
        int nl = s.indexOf('\n');
        return nl < 0 ? s.trim() : s.substring(0, nl).trim();
    }
}
