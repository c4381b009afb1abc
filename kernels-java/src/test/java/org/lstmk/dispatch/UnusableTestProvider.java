package org.lstmk.dispatch;

import org.lstmk.spi.Availability;
import org.lstmk.spi.BackendOptions;
import org.lstmk.spi.BackendProvider;
import org.lstmk.spi.LstmBackend;

/**
 * Test double: a backend that can never run here. Its priority is above every real backend and it is
 * auto-selectable, so the default selection must pass it over and record {@link #REASON} among the skipped.
 */
public final class UnusableTestProvider implements BackendProvider {
    public static final String NAME = "test-unusable";
    public static final String REASON = "test double: the imaginary accelerator it needs is not installed";

    @Override public String name() { return NAME; }

    @Override public String description() { return "test double that is never usable"; }

    @Override public int priority() { return 1_000_000; }

    @Override public Availability availability() { return Availability.unusable(REASON); }

    @Override public LstmBackend open(BackendOptions options) {
        throw new IllegalStateException("the dispatcher opened an unusable backend");
    }
}
