package org.lstmk.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;
import org.lstmk.api.Lstm;
import org.lstmk.api.LstmConfig;
import org.lstmk.reference.ReferenceBackend;
import org.lstmk.reference.ReferenceProvider;
import org.lstmk.spi.Availability;
import org.lstmk.spi.BackendOptions;
import org.lstmk.spi.BackendProvider;
import org.lstmk.spi.LstmBackend;
import org.lstmk.spi.Support;

/**
 * Config-aware dispatch: the default passes over a backend that lacks a feature of the configuration and says
 * which; landing on the reference because of it is a WARNING naming the feature; forcing such a backend is an error
 * naming the feature.
 */
class FeatureDispatchTest {
    /** Usable, auto-selectable, faster than the reference, and only the plain cell (the default supports()). */
    static final class PlainOnly implements BackendProvider {
        @Override public String name() { return "test-plain-only"; }

        @Override public String description() { return "test double with the plain cell only"; }

        @Override public int priority() { return 50; }

        @Override public Availability availability() { return Availability.usable("test"); }

        @Override public LstmBackend open(BackendOptions options) { return new ReferenceBackend(); }
    }

    private static Dispatcher.Opened open(LstmConfig cfg) {
        return Dispatcher.openDefault(cfg, List.of(new PlainOnly(), new ReferenceProvider()), BackendOptions.DEFAULT);
    }

    @Test
    void theDefaultSkipsABackendLackingAFeatureAndWarnsByName() {
        List<LogRecord> logged = new ArrayList<>();
        Handler h = new Handler() {
            @Override public void publish(LogRecord r) { logged.add(r); }

            @Override public void flush() {}

            @Override public void close() {}
        };
        Logger log = Logger.getLogger("org.lstmk");
        log.addHandler(h);
        try {
            LstmConfig cfg = LstmConfig.builder(3, 4).peepholes(true).build();
            Dispatcher.Opened o = open(cfg);
            assertEquals(ReferenceBackend.NAME, o.selection().backend());
            assertEquals("test-plain-only", o.selection().skipped().get(0).backend());
            assertTrue(o.selection().skipped().get(0).reason().startsWith("lacks peepholes"),
                    o.selection().skipped().get(0).reason());
            assertTrue(logged.stream().anyMatch(r -> r.getLevel() == Level.WARNING
                            && r.getMessage().contains("test-plain-only lacks peepholes")
                            && r.getMessage().contains("reference")),
                    "a WARNING naming the feature: " + logged.stream().map(LogRecord::getMessage).toList());
        } finally {
            log.removeHandler(h);
        }
    }

    @Test
    void everyCellFeatureIsNamed() {
        LstmConfig base = LstmConfig.of(3, 4);
        assertEquals("projection", new PlainOnly().supports(base.toBuilder().projectionSize(2).build()).feature());
        assertEquals("peepholes", new PlainOnly().supports(base.toBuilder().peepholes(true).build()).feature());
        assertEquals("cellClip", new PlainOnly().supports(base.toBuilder().cellClip(2f).build()).feature());
        // Stacks, directions and lengths come from the layer driver: every backend has them.
        assertEquals(Support.YES, new PlainOnly().supports(base.toBuilder().layers(3).bidirectional(true).build()));
    }

    @Test
    void aSupportedConfigurationGetsTheFasterBackend() {
        Dispatcher.Opened o = open(LstmConfig.builder(3, 4).layers(2).bidirectional(true).build());
        assertEquals("test-plain-only", o.selection().backend());
    }

    @Test
    void forcingABackendThatLacksAFeatureIsAnErrorNamingIt() {
        LstmConfig cfg = LstmConfig.builder(3, 4).projectionSize(2).build();
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> Lstm.builder(cfg).backend(FlippedGateTestProvider.NAME).build());
        assertTrue(e.getMessage().contains("cannot run this configuration: it lacks projection"), e.getMessage());
    }
}
