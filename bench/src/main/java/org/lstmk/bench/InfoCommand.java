package org.lstmk.bench;

import org.lstmk.api.BackendInfo;
import org.lstmk.api.Lstm;
import org.lstmk.dispatch.Dispatcher;

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
        String forced = System.getProperty(Dispatcher.BACKEND_PROPERTY, System.getenv(Dispatcher.BACKEND_ENV));
        System.out.printf("default     %s%n", Dispatcher.defaultChoice());
        if (forced != null && !forced.isBlank()) System.out.printf("forced      %s%n", forced);
        return 0;
    }
}
