package org.lstmk.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
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
 * left it fails naming every reason. (Not reachable through the service registry without making a failing double
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

    @Test
    void withNothingUsableTheErrorListsEveryReason() {
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> Dispatcher.openDefault(org.lstmk.api.LstmConfig.of(2, 3), List.of(new FailsToOpen()), BackendOptions.DEFAULT));
        assertTrue(e.getMessage().startsWith("no usable LSTM backend; tried: "), e.getMessage());
        assertTrue(e.getMessage().contains("device lost"), e.getMessage());
    }
}
