package org.lstmk.spi;

import java.util.Objects;

/**
 * Whether a backend can run in this process, and why (not).
 *
 * @param usable         whether the backend can be opened
 * @param detail         for a usable backend, what it will run on (e.g. "AVX-512, 16 floats per vector"); otherwise
 *                       the reason it cannot, phrased for a user (e.g. "no CUDA driver: libcuda.so.1 not found")
 * @param misconfigured  whether it is unusable because of a setting the user got wrong (e.g. a system property with
 *                       an invalid value) rather than because this machine lacks something: the dispatcher warns when
 *                       its default choice falls past such a backend, since the user meant it to run
 */
public record Availability(boolean usable, String detail, boolean misconfigured) {
    public Availability {
        Objects.requireNonNull(detail, "detail");
        if (usable && misconfigured) throw new IllegalArgumentException("a usable backend is not misconfigured");
    }

    public Availability(boolean usable, String detail) {
        this(usable, detail, false);
    }

    public static Availability usable(String detail) { return new Availability(true, detail); }

    public static Availability unusable(String reason) { return new Availability(false, reason); }

    /** Unusable because of a configuration error, which {@code reason} names (e.g. the property and its value). */
    public static Availability misconfigured(String reason) { return new Availability(false, reason, true); }
}
