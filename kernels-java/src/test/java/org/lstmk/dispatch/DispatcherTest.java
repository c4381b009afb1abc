package org.lstmk.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.lstmk.api.BackendInfo;
import org.lstmk.api.BackendSelection;
import org.lstmk.api.Lstm;
import org.lstmk.api.LstmConfig;
import org.lstmk.reference.ReferenceBackend;

/**
 * Backend discovery and choice, with the test doubles registered in this module's test resources:
 * {@code test-unusable} (top priority, never usable), {@code test-broken-start} (high priority, usable, fails to
 * open, forced only) and {@code test-flipped-gate} (a wrong reference, forced only). Written so that it stays true when real
 * backends (simd, cuda) join the class path: the default is derived from {@link Lstm#backends()}, never named.
 */
class DispatcherTest {
    private static final LstmConfig CFG = LstmConfig.of(2, 3);
    private String savedBackend, savedVerify;

    @BeforeEach
    void clearProperties() {
        savedBackend = System.clearProperty(Dispatcher.BACKEND_PROPERTY);
        savedVerify = System.clearProperty(Dispatcher.VERIFY_PROPERTY);
    }

    @AfterEach
    void restoreProperties() {
        restore(Dispatcher.BACKEND_PROPERTY, savedBackend);
        restore(Dispatcher.VERIFY_PROPERTY, savedVerify);
    }

    private static void restore(String key, String value) {
        if (value == null) System.clearProperty(key); else System.setProperty(key, value);
    }

    @Test
    void backendsListsEveryProviderBestFirstWithUsabilityAndReason() {
        List<BackendInfo> all = Lstm.backends();
        for (int i = 1; i < all.size(); i++) {
            assertTrue(all.get(i - 1).priority() >= all.get(i).priority(), "sorted by priority, best first: " + all);
        }
        BackendInfo ref = find(all, ReferenceBackend.NAME);
        assertTrue(ref.usable() && ref.autoSelectable(), "the reference always runs and may be chosen: " + ref);
        assertEquals(0, ref.priority());
        BackendInfo unusable = find(all, UnusableTestProvider.NAME);
        assertFalse(unusable.usable());
        assertEquals(UnusableTestProvider.REASON, unusable.detail());
        BackendInfo flipped = find(all, FlippedGateTestProvider.NAME);
        assertTrue(flipped.usable());
        assertFalse(flipped.autoSelectable());
        assertEquals(List.copyOf(all), Lstm.backends(), "the same list every time");
    }

    @Test
    void defaultIsTheBestUsableAutoSelectableBackend() {
        assumeNoEnvironmentOverride();
        String expected = Lstm.backends().stream().filter(b -> b.usable() && b.autoSelectable())
                .findFirst().orElseThrow().name();
        assertEquals(expected, Dispatcher.defaultChoice());
        try (Lstm lstm = Lstm.create(CFG)) {
            BackendSelection s = lstm.selection();
            assertEquals(expected, lstm.backendName());
            assertEquals(expected, s.backend());
            assertNull(s.forcedBy(), "chosen by default");
            assertFalse(s.verified());
            assertTrue(s.describe().contains("chosen by default"), s.describe());
        }
    }

    @Test
    void defaultSelectionRecordsWhyBetterBackendsWereSkipped() {
        assumeNoEnvironmentOverride();
        try (Lstm lstm = Lstm.create(CFG)) {
            BackendSelection s = lstm.selection();
            // Every backend listed before the chosen one was passed over, each with its reason.
            List<String> better = new ArrayList<>();
            for (BackendInfo b : Lstm.backends()) {
                if (b.name().equals(s.backend())) break;
                better.add(b.name());
            }
            assertEquals(better, s.skipped().stream().map(BackendSelection.Skipped::backend).toList());
            BackendSelection.Skipped unusable = s.skipped().stream()
                    .filter(k -> k.backend().equals(UnusableTestProvider.NAME)).findFirst().orElseThrow();
            assertEquals(UnusableTestProvider.REASON, unusable.reason());
            assertTrue(s.describe().contains("skipped: " + UnusableTestProvider.NAME + " (" + UnusableTestProvider.REASON + ")"),
                    s.describe());
            // A usable backend that is not auto-selectable is passed over without being opened.
            BackendSelection.Skipped forcedOnly = s.skipped().stream()
                    .filter(k -> k.backend().equals(BrokenStartTestProvider.NAME)).findFirst().orElseThrow();
            assertEquals("chosen only when forced: test double that fails to start", forcedOnly.reason());
        }
    }

    @Test
    void testDoublesThatAreNotAutoSelectableAreNeverTheDefault() {
        assumeNoEnvironmentOverride();
        try (Lstm lstm = Lstm.create(CFG)) {
            assertFalse(lstm.backendName().startsWith("test-"), lstm.backendName());
        }
    }

    @Test
    void builderForcesABackendByNameIgnoringCase() {
        try (Lstm lstm = Lstm.builder(CFG).backend("REFERENCE").build()) {
            assertEquals(ReferenceBackend.NAME, lstm.backendName());
            assertEquals("Lstm.Builder.backend", lstm.selection().forcedBy());
            assertTrue(lstm.selection().skipped().isEmpty(), "a forced choice skips nothing");
            assertTrue(lstm.selection().describe().contains("forced by Lstm.Builder.backend"));
        }
        try (Lstm lstm = Lstm.builder(CFG).backend(FlippedGateTestProvider.NAME).build()) {
            assertEquals(FlippedGateTestProvider.NAME, lstm.backendName(), "forcing reaches non-auto-selectable ones");
        }
    }

    @Test
    void systemPropertyForcesABackendAndTheBuilderWins() {
        System.setProperty(Dispatcher.BACKEND_PROPERTY, " " + FlippedGateTestProvider.NAME + " ");
        try (Lstm lstm = Lstm.create(CFG)) {
            assertEquals(FlippedGateTestProvider.NAME, lstm.backendName());
            assertEquals("-Dlstm.backend", lstm.selection().forcedBy());
        }
        System.setProperty(Dispatcher.BACKEND_PROPERTY, UnusableTestProvider.NAME);
        try (Lstm lstm = Lstm.builder(CFG).backend(ReferenceBackend.NAME).build()) {
            assertEquals(ReferenceBackend.NAME, lstm.backendName(), "the builder overrides the property");
        }
    }

    @Test
    void blankSystemPropertyMeansNoChoice() {
        assumeNoEnvironmentOverride();
        System.setProperty(Dispatcher.BACKEND_PROPERTY, "  ");
        try (Lstm lstm = Lstm.create(CFG)) {
            assertNull(lstm.selection().forcedBy());
            assertEquals(Dispatcher.defaultChoice(), lstm.backendName());
        }
    }

    @Test
    void unknownBackendIsAnErrorListingTheKnownOnes() {
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> Lstm.builder(CFG).backend("warp-drive").build());
        assertTrue(e.getMessage().startsWith("backend 'warp-drive' (forced by Lstm.Builder.backend) is unknown; known backends: "),
                e.getMessage());
        for (BackendInfo b : Lstm.backends()) assertTrue(e.getMessage().contains(b.name()), e.getMessage());

        System.setProperty(Dispatcher.BACKEND_PROPERTY, "warp-drive");
        e = assertThrows(IllegalStateException.class, () -> Lstm.create(CFG));
        assertTrue(e.getMessage().contains("(forced by -Dlstm.backend) is unknown"), e.getMessage());
    }

    @Test
    void forcingAnUnusableBackendFailsWithItsReason() {
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> Lstm.builder(CFG).backend(UnusableTestProvider.NAME).build());
        assertEquals("backend 'test-unusable' (forced by Lstm.Builder.backend) cannot run here: "
                + UnusableTestProvider.REASON, e.getMessage());
        System.setProperty(Dispatcher.BACKEND_PROPERTY, UnusableTestProvider.NAME);
        e = assertThrows(IllegalStateException.class, () -> Lstm.create(CFG));
        assertTrue(e.getMessage().contains("(forced by -Dlstm.backend) cannot run here: " + UnusableTestProvider.REASON),
                e.getMessage());
    }

    @Test
    void forcingABackendThatFailsToStartReportsTheFailure() {
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> Lstm.builder(CFG).backend(BrokenStartTestProvider.NAME).build());
        assertTrue(e.getMessage().startsWith("backend 'test-broken-start' (forced by Lstm.Builder.backend) failed to start: "),
                e.getMessage());
        assertTrue(e.getMessage().contains(BrokenStartTestProvider.FAILURE), e.getMessage());
        assertNotNull(e.getCause());
        assertEquals(BrokenStartTestProvider.FAILURE, e.getCause().getMessage());
    }

    @Test
    void verificationIsRecordedInTheSelection() {
        try (Lstm lstm = Lstm.builder(CFG).backend(ReferenceBackend.NAME).verify(true).build()) {
            assertTrue(lstm.selection().verified());
            assertTrue(lstm.selection().describe().contains("every call verified against the reference"));
            assertEquals(ReferenceBackend.NAME, lstm.backendName(), "the wrapper keeps the backend's name");
        }
        System.setProperty(Dispatcher.VERIFY_PROPERTY, "true");
        try (Lstm on = Lstm.builder(CFG).backend(ReferenceBackend.NAME).build();
             Lstm off = Lstm.builder(CFG).backend(ReferenceBackend.NAME).verify(false).build()) {
            assertTrue(on.selection().verified(), "-Dlstm.verify=true turns it on");
            assertFalse(off.selection().verified(), "the builder overrides the property");
        }
    }

    /** LSTM_BACKEND in a child JVM: honoured, named as the source, and overridden by -Dlstm.backend. */
    @Test
    void environmentVariableForcesABackendAndThePropertyWins() throws Exception {
        assertEquals("selected test-flipped-gate forcedBy=LSTM_BACKEND", probe(FlippedGateTestProvider.NAME, (String) null));
        assertEquals("error backend 'test-unusable' (forced by LSTM_BACKEND) cannot run here: " + UnusableTestProvider.REASON,
                probe(UnusableTestProvider.NAME, (String) null));
        assertEquals("selected reference forcedBy=-Dlstm.backend", probe(UnusableTestProvider.NAME, ReferenceBackend.NAME));
    }

    /**
     * A wrong {@code -Dlstm.simd.bits} in a child JVM (the SIMD width is fixed once per JVM, so this one's must not
     * see it): the default lands on the reference, and a WARNING says why in the property's own words rather than
     * an ExceptionInInitializerError. Skipped where the simd backend is not on the class path or not usable at all.
     */
    @Test
    void aMisconfiguredSimdWidthIsWarnedAboutWhenTheDefaultFallsToTheReference() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(Lstm.backends().stream()
                .anyMatch(b -> b.name().equals("simd") && b.usable()), "simd is not usable here");
        String reason = "-Dlstm.simd.bits=77: expected 128, 256 or 512";
        Probe p = probe("", List.of("-Dlstm.simd.bits=77"));
        assertEquals("selected reference forcedBy=null", p.out());
        assertTrue(p.err().lines().anyMatch(l -> l.contains("WARNING") && l.contains("simd is misconfigured: " + reason)),
                "a WARNING naming the reason: " + p.err());
        assertFalse(p.err().contains("ExceptionInInitializerError"), p.err());
    }

    private static String probe(String env, String property) throws IOException, InterruptedException {
        return probe(env, property == null ? List.of() : List.of("-D" + Dispatcher.BACKEND_PROPERTY + "=" + property))
                .out();
    }

    /** What the child JVM printed: the selection line, and its log. */
    private record Probe(String out, String err) {}

    private static Probe probe(String env, List<String> options) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path")));
        cmd.addAll(options);
        cmd.add(SelectionProbe.class.getName());
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().put(Dispatcher.BACKEND_ENV, env);
        Process p = pb.start();
        // stderr drained on its own thread: a child blocked on a full pipe would never exit
        var err = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            try {
                return new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "probe JVM timed out");
        assertEquals(0, p.exitValue(), out);
        return new Probe(out, err.join());
    }

    /** The in-process default tests cannot clear an LSTM_BACKEND set around the build: they are then skipped. */
    private static void assumeNoEnvironmentOverride() {
        org.junit.jupiter.api.Assumptions.assumeTrue(System.getenv(Dispatcher.BACKEND_ENV) == null
                || System.getenv(Dispatcher.BACKEND_ENV).isBlank(), "LSTM_BACKEND is set in this environment");
    }

    private static BackendInfo find(List<BackendInfo> all, String name) {
        return all.stream().filter(b -> b.name().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError(name + " not listed in " + all));
    }
}
