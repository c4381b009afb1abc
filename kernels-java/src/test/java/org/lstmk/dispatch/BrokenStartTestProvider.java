package org.lstmk.dispatch;

import org.lstmk.spi.Availability;
import org.lstmk.spi.BackendOptions;
import org.lstmk.spi.BackendProvider;
import org.lstmk.spi.LstmBackend;

/**
 * Test double: a backend that says it is usable but fails when opened (a device that vanished between the probe
 * and the start). Not auto-selectable, so only a test that forces it ever opens it; its priority is above every
 * real backend so that the default selection must pass it over for that reason (and record it).
 */
public final class BrokenStartTestProvider implements BackendProvider {
    public static final String NAME = "test-broken-start";
    public static final String FAILURE = "test double: device vanished while starting";

    @Override public String name() { return NAME; }

    @Override public String description() { return "test double that fails to start"; }

    @Override public int priority() { return 500_000; }

    @Override public boolean autoSelectable() { return false; }

    @Override public Availability availability() { return Availability.usable("looks usable until opened"); }

    @Override public LstmBackend open(BackendOptions options) { throw new IllegalStateException(FAILURE); }
}
