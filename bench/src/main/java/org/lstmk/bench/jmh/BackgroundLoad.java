package org.lstmk.bench.jmh;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * How many cores other processes kept busy during an interval: the machine's busy CPU time ({@code /proc/stat})
 * minus this JVM's, over the wall time. Resolution is the kernel's tick (10 ms), so it means something for
 * intervals of a second or more. Prints nothing where {@code /proc/stat} is missing.
 */
final class BackgroundLoad {
    private double busy0, self0;
    private long wall0;

    void start() {
        busy0 = machineBusySeconds();
        self0 = selfSeconds();
        wall0 = System.nanoTime();
    }

    /** Prints {@code bg=<cores>} for the interval since {@link #start()}. */
    void report() {
        double wall = (System.nanoTime() - wall0) / 1e9;
        double busy = machineBusySeconds();
        if (busy0 < 0 || busy < 0 || wall <= 0) return;
        double other = Math.max(0, (busy - busy0) - (selfSeconds() - self0)) / wall;
        System.out.printf(Locale.ROOT, "  [background load: bg=%.2f cores over %.1f s]%n", other, wall);
    }

    private static double selfSeconds() {
        var os = ManagementFactory.getOperatingSystemMXBean();
        if (os instanceof com.sun.management.OperatingSystemMXBean o) return o.getProcessCpuTime() / 1e9;
        return 0;
    }

    /** user + nice + system + irq + softirq of all CPUs, in seconds; negative if unavailable. */
    private static double machineBusySeconds() {
        try {
            String[] f = Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
            long ticks = Long.parseLong(f[1]) + Long.parseLong(f[2]) + Long.parseLong(f[3]) + Long.parseLong(f[6])
                    + Long.parseLong(f[7]);
            return ticks / 100.0;
        } catch (Exception e) {
            return -1;
        }
    }
}
