package org.lstmk.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;
import org.lstmk.api.BackendSelection;
import org.lstmk.reference.ReferenceBackend;
import org.lstmk.reference.ReferenceProvider;
import org.lstmk.spi.Availability;
import org.lstmk.spi.BackendOptions;
import org.lstmk.spi.BackendProvider;
import org.lstmk.spi.LstmBackend;

/**
 * The default choice moves past a backend that looked usable but fails to open, and records why; with nothing
 * left it fails naming every reason. Falling to the reference past a backend that is unusable for a configuration
 * error is a WARNING naming the error; past one that this machine cannot run, it is not. (Not reachable through the service registry without making a failing double
 * the default for every other test, hence the explicit candidate list.)
 */
class DefaultFallbackTest {

    /** Usable, auto-selectable, better than the reference, and broken at start. */
    private static final class FailsToOpen implements BackendProvider {
        @Override public String name() { return "fails-to-open"; }
        @Override public String description() { return "test double"; }
        @Override public int priority() { return 50; }
        @Override public Availability availability() { return Availability.usable("looks fine"); }
        @Override public LstmBackend open(BackendOptions options) { throw new IllegalStateException("device lost"); }
    }

    @Test
    void aBackendThatFailsToOpenIsSkippedWithItsReason() {
        Dispatcher.Opened o = Dispatcher.openDefault(org.lstmk.api.LstmConfig.of(2, 3), List.of(new FailsToOpen(), new ReferenceProvider()),
                BackendOptions.DEFAULT);
        try (LstmBackend b = o.backend()) {
            assertEquals(ReferenceBackend.NAME, b.name());
            BackendSelection s = o.selection();
            assertEquals(ReferenceBackend.NAME, s.backend());
            assertEquals(1, s.skipped().size());
            assertEquals("fails-to-open", s.skipped().get(0).backend());
            assertEquals("failed to start: java.lang.IllegalStateException: device lost", s.skipped().get(0).reason());
        }
    }

    /** Unusable for a setting the user got wrong, as simd with {@code -Dlstm.simd.bits=77}. */
    private static final class Misconfigured implements BackendProvider {
        static final String REASON = "-Dtest.width=77: expected 128, 256 or 512";
        @Override public String name() { return "misconfigured"; }
        @Override public String description() { return "test double"; }
        @Override public int priority() { return 50; }
        @Override public Availability availability() { return Availability.misconfigured(REASON); }
        @Override public LstmBackend open(BackendOptions options) { throw new AssertionError("opened"); }
    }

    /** Unusable because the machine lacks something: normal, not worth a warning. */
    private static final class Absent implements BackendProvider {
        @Override public String name() { return "absent"; }
        @Override public String description() { return "test double"; }
        @Override public int priority() { return 60; }
        @Override public Availability availability() { return Availability.unusable("no such device"); }
        @Override public LstmBackend open(BackendOptions options) { throw new AssertionError("opened"); }
    }

    /** The WARNINGs of logger {@code org.lstmk} while {@code candidates} are chosen from for {@code config}. */
    private static List<String> warnings(org.lstmk.api.LstmConfig config, List<BackendProvider> candidates) {
        List<String> warned = new ArrayList<>();
        Handler h = new Handler() {
            @Override public void publish(LogRecord r) { if (r.getLevel() == Level.WARNING) warned.add(r.getMessage()); }

            @Override public void flush() {}

            @Override public void close() {}
        };
        Logger log = Logger.getLogger("org.lstmk");
        log.addHandler(h);
        try (LstmBackend b = Dispatcher.openDefault(config, candidates, BackendOptions.DEFAULT).backend()) {
            assertEquals(ReferenceBackend.NAME, b.name());
        } finally {
            log.removeHandler(h);
        }
        return warned;
    }

    @Test
    void fallingToTheReferencePastAMisconfiguredBackendIsAWarningNamingTheError() {
        // sizes of their own: the dispatcher logs each distinct line once per JVM
        List<String> warned = warnings(org.lstmk.api.LstmConfig.of(7, 11),
                List.of(new Absent(), new Misconfigured(), new ReferenceProvider()));
        assertEquals(1, warned.size(), warned.toString());
        assertTrue(warned.get(0).contains("reference") && warned.get(0).contains("misconfigured is misconfigured: "
                + Misconfigured.REASON), warned.get(0));
        assertFalse(warned.get(0).contains("absent"), "a machine without a backend is no configuration error");
    }

    @Test
    void fallingToTheReferencePastAnAbsentBackendIsNoWarning() {
        assertEquals(List.of(), warnings(org.lstmk.api.LstmConfig.of(7, 13), List.of(new Absent(), new ReferenceProvider())));
    }

    @Test
    void withNothingUsableTheErrorListsEveryReason() {
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> Dispatcher.openDefault(org.lstmk.api.LstmConfig.of(2, 3), List.of(new FailsToOpen()), BackendOptions.DEFAULT));
        assertTrue(e.getMessage().startsWith("no usable LSTM backend; tried: "), e.getMessage());
        assertTrue(e.getMessage().contains("device lost"), e.getMessage());
    }
}
