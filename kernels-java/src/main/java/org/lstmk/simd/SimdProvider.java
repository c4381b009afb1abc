package org.lstmk.simd;

import org.lstmk.api.LstmConfig;
import org.lstmk.spi.Availability;
import org.lstmk.spi.BackendOptions;
import org.lstmk.spi.BackendProvider;
import org.lstmk.spi.LstmBackend;
import org.lstmk.spi.Support;

/**
 * Registers the SIMD backend. Loads on any JVM: the Vector API module is looked up, not linked, until
 * {@link #open} (the classes that use it are only loaded from there and from {@link #availability()} once the
 * module is known to be present).
 */
public final class SimdProvider implements BackendProvider {
    private static final String MODULE = "jdk.incubator.vector";
    private volatile Availability availability;

    @Override public String name() { return "simd"; }

    @Override public String description() {
        return "JDK Vector API kernels: gate-interleaved packed weights, fused recurrent step, spin-synchronised threads";
    }

    @Override public int priority() { return 100; }

    @Override
    public Availability availability() {
        Availability a = availability;
        if (a == null) availability = a = probe();
        return a;
    }

    private static Availability probe() {
        if (ModuleLayer.boot().findModule(MODULE).isEmpty()) {
            return Availability.unusable("the Vector API module is not loaded: run the JVM with --add-modules " + MODULE);
        }
        try {
            return Availability.usable(Probe.describe());
        } catch (RuntimeException | LinkageError e) {
            return Availability.unusable("the Vector API failed to initialise: " + e);
        }
    }

    /** Every cell feature runs in the kernels: peepholes and clip ({@code FeatureCell}), projection (its own phase). */
    @Override
    public Support supports(LstmConfig config) {
        return Support.cellFeatures(name(), config, true, true, true);
    }

    /** Instances share nothing but read-only packed weights: one per direction may run at once. */
    @Override
    public boolean concurrentInstances() { return true; }

    /** {@code SimdWeights} are immutable native memory in a shared arena, read by every thread of every call. */
    @Override
    public boolean sharedWeights() { return true; }

    @Override
    public LstmBackend open(BackendOptions options) {
        return new SimdBackend(options);
    }

    /** Touches the Vector API; loaded only after the module check. */
    private static final class Probe {
        static String describe() {
            int threads = Runtime.getRuntime().availableProcessors();
            return SimdSpecies.describe() + ", " + threads + (threads == 1 ? " thread" : " threads");
        }
    }
}
