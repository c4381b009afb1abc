package org.lstmk.spi;

/**
 * A backend's packed copy of one layer's weights, in whatever layout its kernels prefer (gate-interleaved,
 * padded, on the device...). Owned by the backend; {@link #close()} releases native or device memory and is
 * idempotent.
 */
public interface BackendWeights extends AutoCloseable {
    @Override
    void close();
}
