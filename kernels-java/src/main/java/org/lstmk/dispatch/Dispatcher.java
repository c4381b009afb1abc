package org.lstmk.dispatch;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.lstmk.api.BackendInfo;
import org.lstmk.api.BackendSelection;
import org.lstmk.api.LstmConfig;
import org.lstmk.reference.ReferenceBackend;
import org.lstmk.spi.Availability;
import org.lstmk.spi.BackendOptions;
import org.lstmk.spi.BackendProvider;
import org.lstmk.spi.LstmBackend;
import org.lstmk.spi.Support;
import org.lstmk.verify.VerifyingBackend;

/**
 * Finds the backends on the class path ({@link ServiceLoader} of {@link BackendProvider}) and chooses one:
 * the one the user forces ({@code Lstm.Builder.backend}, else {@code -Dlstm.backend=}, else {@code LSTM_BACKEND=}),
 * or by default the usable, auto-selectable backend of highest priority. A forced backend that cannot run is an
 * error naming the reason, never a silent fallback. Each distinct choice is logged once (logger
 * {@code org.lstmk}, level INFO) and is available from {@link org.lstmk.api.Lstm#selection()}.
 */
public final class Dispatcher {
    /** System property forcing a backend by name. */
    public static final String BACKEND_PROPERTY = "lstm.backend";
    /** Environment variable forcing a backend by name (the property wins). */
    public static final String BACKEND_ENV = "LSTM_BACKEND";
    /** System property turning on the verifying wrapper. */
    public static final String VERIFY_PROPERTY = "lstm.verify";

    private static final System.Logger LOG = System.getLogger("org.lstmk");
    private static final Set<String> LOGGED = ConcurrentHashMap.newKeySet();
    private static volatile List<BackendProvider> providers;

    private Dispatcher() {}

    /** An opened backend and the record of how it was chosen. */
    /**
     * An opened backend and the record of how it was chosen.
     *
     * @param provider what opened it ({@link #openAnother})
     */
    public record Opened(LstmBackend backend, BackendSelection selection, BackendProvider provider) {}

    /**
     * A second instance of {@code opened}'s backend with {@code options} (wrapped for verification as the first),
     * or null when the provider does not allow instances to run concurrently ({@link
     * BackendProvider#concurrentInstances()}).
     */
    public static LstmBackend openAnother(Opened opened, BackendOptions options) {
        if (!opened.provider().concurrentInstances()) return null;
        LstmBackend b = opened.provider().open(options);
        return opened.selection().verified() ? new VerifyingBackend(b, new ReferenceBackend()) : b;
    }

    /** Every provider found, highest priority first. */
    public static List<BackendProvider> providers() {
        List<BackendProvider> p = providers;
        if (p == null) {
            List<BackendProvider> found = new ArrayList<>();
            var it = ServiceLoader.load(BackendProvider.class, Dispatcher.class.getClassLoader()).iterator();
            while (true) {
                try {
                    if (!it.hasNext()) break;
                    found.add(it.next());
                } catch (ServiceConfigurationError e) {
                    LOG.log(System.Logger.Level.WARNING, "lstm-kernels: a backend provider failed to load: " + e.getMessage());
                }
            }
            found.sort(Comparator.comparingInt(BackendProvider::priority).reversed());
            providers = p = List.copyOf(found);
        }
        return p;
    }

    /** What {@link org.lstmk.api.Lstm#backends()} reports. */
    public static List<BackendInfo> backends() {
        List<BackendInfo> out = new ArrayList<>();
        for (BackendProvider p : providers()) {
            Availability a = p.availability();
            out.add(new BackendInfo(p.name(), p.description(), p.priority(), a.usable(), a.detail(), p.autoSelectable()));
        }
        return out;
    }

    /** The backend that {@link #open} would choose by default, without opening it, or null if none is usable. */
    public static String defaultChoice() {
        return defaultChoice(null);
    }

    /** As {@link #defaultChoice()} for {@code config} (null: any configuration). */
    public static String defaultChoice(LstmConfig config) {
        for (BackendProvider p : providers()) {
            if (p.autoSelectable() && p.availability().usable() && (config == null || p.supports(config).supported())) {
                return p.name();
            }
        }
        return null;
    }

    /**
     * Chooses and opens a backend that can run {@code config}.
     *
     * @param config  what the engine will run: a backend lacking one of its features is skipped by default and an
     *                error when forced
     * @param forced  a name given through the API, or null to consult the property and the environment
     * @param verify  whether to wrap it in a {@link VerifyingBackend}; null to consult {@code -Dlstm.verify}
     * @throws IllegalStateException if a forced backend is unknown, cannot run here, lacks a feature of
     *                               {@code config} or fails to start
     */
    public static Opened open(LstmConfig config, String forced, Boolean verify, BackendOptions options) {
        String forcedBy = null;
        if (forced != null) {
            forcedBy = "Lstm.Builder.backend";
        } else if (notBlank(System.getProperty(BACKEND_PROPERTY))) {
            forced = System.getProperty(BACKEND_PROPERTY).trim();
            forcedBy = "-D" + BACKEND_PROPERTY;
        } else if (notBlank(System.getenv(BACKEND_ENV))) {
            forced = System.getenv(BACKEND_ENV).trim();
            forcedBy = BACKEND_ENV;
        }
        boolean verifying = verify != null ? verify : Boolean.getBoolean(VERIFY_PROPERTY);
        Opened opened = forced != null ? openForced(config, forced, forcedBy, options)
                : openDefault(config, providers(), options);
        if (verifying) {
            BackendSelection s = opened.selection();
            opened = new Opened(new VerifyingBackend(opened.backend(), new ReferenceBackend()),
                    new BackendSelection(s.backend(), s.detail(), s.forcedBy(), s.skipped(), true), opened.provider());
        }
        String line = opened.selection().describe();
        if (LOGGED.add(line)) LOG.log(System.Logger.Level.INFO, "lstm-kernels: " + line);
        return opened;
    }

    private static Opened openForced(LstmConfig config, String name, String forcedBy, BackendOptions options) {
        BackendProvider p = providers().stream()
                .filter(q -> q.name().equalsIgnoreCase(name)).findFirst()
                .orElseThrow(() -> new IllegalStateException("backend '" + name + "' (forced by " + forcedBy
                        + ") is unknown; known backends: " + names()));
        Availability a = p.availability();
        if (!a.usable()) {
            throw new IllegalStateException("backend '" + p.name() + "' (forced by " + forcedBy
                    + ") cannot run here: " + a.detail());
        }
        Support support = p.supports(config);
        if (!support.supported()) {
            throw new IllegalStateException("backend '" + p.name() + "' (forced by " + forcedBy
                    + ") cannot run this configuration: it lacks " + support.describe() + " (" + config + ")");
        }
        try {
            return new Opened(p.open(options), new BackendSelection(p.name(), a.detail(), forcedBy, List.of(), false), p);
        } catch (RuntimeException | LinkageError e) {
            throw new IllegalStateException("backend '" + p.name() + "' (forced by " + forcedBy
                    + ") failed to start: " + e, e);
        }
    }

    /**
     * The first usable, auto-selectable provider of {@code candidates} (best first) that supports {@code config}
     * and opens. Landing on the reference because a usable faster backend lacks a feature, or because a faster
     * backend is unusable for a configuration error ({@link Availability#misconfigured}), is logged as a WARNING
     * naming the feature or the error: either way the user expected the faster one, and the reference alone would
     * look like a silent slowdown.
     */
    static Opened openDefault(LstmConfig config, List<BackendProvider> candidates, BackendOptions options) {
        List<BackendSelection.Skipped> skipped = new ArrayList<>();
        List<String> passedOver = new ArrayList<>(); // why faster backends the user meant to run did not
        for (BackendProvider p : candidates) {
            Availability a = p.availability();
            if (!p.autoSelectable()) {
                skipped.add(new BackendSelection.Skipped(p.name(), "chosen only when forced: " + p.description()));
                continue;
            }
            if (!a.usable()) {
                skipped.add(new BackendSelection.Skipped(p.name(), a.detail()));
                if (a.misconfigured()) passedOver.add(p.name() + " is misconfigured: " + a.detail());
                continue;
            }
            Support support = p.supports(config);
            if (!support.supported()) {
                skipped.add(new BackendSelection.Skipped(p.name(), "lacks " + support.describe()));
                passedOver.add(p.name() + " lacks " + support.feature());
                continue;
            }
            try {
                Opened o = new Opened(p.open(options), new BackendSelection(p.name(), a.detail(), null, skipped, false), p);
                if (!passedOver.isEmpty() && p.name().equals(ReferenceBackend.NAME)) {
                    String line = "lstm-kernels: running " + config + " on the slow scalar reference because "
                            + String.join(", ", passedOver);
                    if (LOGGED.add(line)) LOG.log(System.Logger.Level.WARNING, line);
                }
                return o;
            } catch (RuntimeException | LinkageError e) {
                skipped.add(new BackendSelection.Skipped(p.name(), "failed to start: " + e));
            }
        }
        throw new IllegalStateException("no usable LSTM backend; tried: " + skipped);
    }

    private static String names() {
        return String.join(", ", providers().stream().map(p -> p.name().toLowerCase(Locale.ROOT)).toList());
    }

    private static boolean notBlank(String s) {
        return s != null && !s.isBlank();
    }
}
