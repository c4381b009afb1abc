package org.lstmk.reference;

import org.lstmk.spi.Availability;
import org.lstmk.spi.BackendOptions;
import org.lstmk.spi.BackendProvider;
import org.lstmk.spi.LstmBackend;
import org.lstmk.spi.Support;
import org.lstmk.api.LstmConfig;

/** Registers the scalar reference: always usable, lowest priority. */
public final class ReferenceProvider implements BackendProvider {
    @Override public String name() { return ReferenceBackend.NAME; }

    @Override public String description() { return "scalar Java reference in double precision (the oracle; slow by design)"; }

    @Override public int priority() { return 0; }

    @Override public Availability availability() { return Availability.usable("pure Java, runs everywhere"); }

    @Override public Support supports(LstmConfig config) { return Support.YES; }

    /** Instances share nothing but read-only packed weights: one per direction may run at once. */
    @Override public boolean concurrentInstances() { return true; }

    /** Packed weights are a double copy that calls only read. */
    @Override public boolean sharedWeights() { return true; }

    @Override public LstmBackend open(BackendOptions options) { return new ReferenceBackend(); }
}
