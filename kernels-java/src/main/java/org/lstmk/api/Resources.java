package org.lstmk.api;

import java.lang.ref.Cleaner;

/** What the API's owners of native memory and threads share: the cleaner and the key of shareable weights. */
final class Resources {
    private Resources() {}

    /**
     * Frees what engines, packed weights and workspaces hold when they become unreachable without {@code close()}:
     * worker threads and native or device memory are never left behind by a caller that forgot.
     */
    static final Cleaner CLEANER = Cleaner.create(r -> {
        Thread t = new Thread(r, "lstmk-cleaner");
        t.setDaemon(true);
        return t;
    });

    /**
     * The family of engines that accept each other's packed weights: those on one provider whose instances share
     * them ({@code BackendProvider.sharedWeights()}), with or without the verifying wrapper. Engines on a provider
     * that cannot share get a family of their own (a plain object, equal only to itself).
     */
    record SharedWeights(String provider, boolean verified) {}
}
