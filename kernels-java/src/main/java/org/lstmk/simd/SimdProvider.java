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
        return probe(System.getProperty(SimdSpecies.BITS_PROPERTY));
    }

    /**
     * The availability with {@code bits} as the value of {@code -Dlstm.simd.bits}. Package-private so that tests
     * can give values without setting the property: {@code SimdSpecies} reads it once per JVM, into constants.
     */
    static Availability probe(String bits) {
        if (ModuleLayer.boot().findModule(MODULE).isEmpty()) {
            return Availability.unusable("the Vector API module is not loaded: run the JVM with --add-modules " + MODULE);
        }
        // Checked before SimdSpecies loads: its static initialiser would throw the same reason, but wrapped in an
        // ExceptionInInitializerError; and a wrong setting is the user's to fix, which the dispatcher warns about.
        String invalid = invalidBits(bits);
        if (invalid != null) return Availability.misconfigured(invalid);
        try {
            return Availability.usable(Probe.describe());
        } catch (ExceptionInInitializerError e) {
            return Availability.unusable("the Vector API failed to initialise: "
                    + (e.getCause() != null ? e.getCause() : e));
        } catch (RuntimeException | LinkageError e) {
            return Availability.unusable("the Vector API failed to initialise: " + e);
        }
    }

    /**
     * Why {@code bits}, a value of {@code -Dlstm.simd.bits}, cannot be used (e.g.
     * {@code "-Dlstm.simd.bits=77: expected 128, 256 or 512"}), or null when it can; null or blank means the
     * hardware's width. Here, in a class that loads without the Vector API, so that the probe can ask before
     * {@code SimdSpecies} initialises.
     */
    static String invalidBits(String bits) {
        if (bits == null || bits.isBlank()) return null;
        return switch (bits.trim()) {
            case "128", "256", "512" -> null;
            default -> "-D" + SimdSpecies.BITS_PROPERTY + "=" + bits + ": expected 128, 256 or 512";
        };
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
