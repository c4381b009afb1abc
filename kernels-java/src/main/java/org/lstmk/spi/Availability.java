package org.lstmk.spi;

import java.util.Objects;

/**
 * Whether a backend can run in this process, and why (not).
 *
 * @param usable whether the backend can be opened
 * @param detail for a usable backend, what it will run on (e.g. "AVX-512, 16 floats per vector"); otherwise the
 *               reason it cannot, phrased for a user (e.g. "no CUDA driver: libcuda.so.1 not found")
 */
public record Availability(boolean usable, String detail) {
    public Availability {
        Objects.requireNonNull(detail, "detail");
    }

    public static Availability usable(String detail) { return new Availability(true, detail); }

    public static Availability unusable(String reason) { return new Availability(false, reason); }
}
