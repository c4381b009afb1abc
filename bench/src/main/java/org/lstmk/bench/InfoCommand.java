package org.lstmk.bench;

import org.lstmk.api.BackendInfo;
import org.lstmk.api.Lstm;
import org.lstmk.api.LstmConfig;
import org.lstmk.dispatch.Dispatcher;
import org.lstmk.spi.BackendProvider;
import org.lstmk.spi.Support;

/** {@code lstmk info}: what this machine and JVM offer and what the dispatcher would choose. */
final class InfoCommand {
    private InfoCommand() {}

    static int run(String[] args) {
        System.out.printf("Java        %s (%s)%n", Runtime.version(), System.getProperty("java.home"));
        System.out.printf("CPU         %s, %d processors%n", System.getProperty("os.arch"),
                Runtime.getRuntime().availableProcessors());
        System.out.printf("Vector API  %s%n", VectorInfo.describe());
        System.out.println();
        System.out.printf("%-10s %-6s %-8s %s%n", "backend", "usable", "priority", "detail");
        for (BackendInfo b : Lstm.backends()) {
            System.out.printf("%-10s %-6s %-8s %s%n", b.name(), b.usable() ? "yes" : "no",
                    b.autoSelectable() ? Integer.toString(b.priority()) : "forced", b.detail());
        }
        System.out.println();
        // What each backend runs beyond the plain layer: stacks, directions and lengths come from the layer driver.
        LstmConfig base = LstmConfig.of(8, 8);
        LstmConfig[] probes = {base.toBuilder().layers(2).bidirectional(true).build(),
                base.toBuilder().projectionSize(4).build(), base.toBuilder().peepholes(true).build(),
                base.toBuilder().cellClip(1f).build()};
        String[] names = {"layers+bidirectional+lengths", "projection", "peepholes", "cellClip"};
        System.out.printf("%-10s %s%n", "backend", "features");
        for (BackendProvider p : Dispatcher.providers()) {
            StringBuilder f = new StringBuilder();
            for (int i = 0; i < probes.length; i++) {
                Support s = p.supports(probes[i]);
                f.append(i == 0 ? "" : ", ").append(names[i]).append(s.supported() ? "" : " (no)");
            }
            System.out.printf("%-10s %s%n", p.name(), f);
        }
        System.out.println();
        boolean paths = false;
        for (BackendProvider p : Dispatcher.providers()) {
            for (String line : p.paths()) {
                if (!paths) System.out.printf("%-10s %s%n", "backend", "paths (chosen per call)");
                paths = true;
                System.out.printf("%-10s %s%n", p.name(), line);
            }
        }
        if (paths) System.out.println();
        String forced = System.getProperty(Dispatcher.BACKEND_PROPERTY, System.getenv(Dispatcher.BACKEND_ENV));
        System.out.printf("default     %s%n", Dispatcher.defaultChoice());
        if (forced != null && !forced.isBlank()) {
            System.out.printf("forced      %s%n", forced.trim());
            BackendInfo f = Lstm.backends().stream().filter(b -> b.name().equalsIgnoreCase(forced.trim())).findFirst()
                    .orElse(null);
            if (f == null || !f.usable()) {
                System.err.println("lstmk info: the forced backend '" + forced.trim() + "' "
                        + (f == null ? "is unknown" : "cannot run here: " + f.detail()));
                return 1;
            }
        }
        return 0;
    }
}
