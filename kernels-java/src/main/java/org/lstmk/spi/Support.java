package org.lstmk.spi;

import java.util.Objects;
import org.lstmk.api.LstmConfig;

/**
 * Whether a backend can run a configuration, and if not, which feature it lacks and why.
 *
 * @param supported whether every feature of the configuration runs on the backend
 * @param feature   for an unsupported configuration, the {@link LstmConfig.Builder} option it lacks (e.g.
 *                  {@code "projection"}); null when supported
 * @param reason    for an unsupported configuration, a sentence for the user; null when supported
 */
public record Support(boolean supported, String feature, String reason) {
    public static final Support YES = new Support(true, null, null);

    public Support {
        if (!supported) {
            Objects.requireNonNull(feature, "feature");
            Objects.requireNonNull(reason, "reason");
        }
    }

    /** Lacks {@code feature}. */
    public static Support no(String feature, String reason) {
        return new Support(false, feature, reason);
    }

    /**
     * What a backend whose kernels run the plain cell supports: stacks, directions and lengths (the layer driver
     * builds them from single-layer calls) but none of the cell features, each refused by name.
     */
    public static Support plainCell(String backend, LstmConfig config) {
        return cellFeatures(backend, config, false, false, false);
    }

    /** Refuses each cell feature that the backend's kernels lack, by name. */
    public static Support cellFeatures(String backend, LstmConfig config, boolean projection, boolean peepholes,
                                       boolean cellClip) {
        if (config.hasProjection() && !projection) return no("projection", backend + " kernels have no projection (LSTMP) phase");
        if (config.peepholes() && !peepholes) return no("peepholes", backend + " kernels have no peephole connections");
        if (config.hasCellClip() && !cellClip) return no("cellClip", backend + " kernels do not clip gate pre-activations");
        return YES;
    }

    /** For messages: {@code "feature: reason"}. */
    public String describe() {
        return supported ? "supported" : feature + ": " + reason;
    }
}
