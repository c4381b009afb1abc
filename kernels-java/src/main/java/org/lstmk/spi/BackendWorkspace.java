package org.lstmk.spi;

/**
 * What a backend keeps between forward training and backward (gate activations, cell states...) for up to
 * {@code maxSteps × maxBatch}, in its own layout. Allocated once, reused by every call; {@link #close()}
 * releases it and is idempotent.
 */
public interface BackendWorkspace extends AutoCloseable {
    @Override
    void close();
}
