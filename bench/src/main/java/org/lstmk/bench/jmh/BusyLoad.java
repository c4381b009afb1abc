package org.lstmk.bench.jmh;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * A background load for a trial: {@code busyCores} other processes, each a shell loop that keeps one core busy (what
 * a server running the library always has beside it). Each loop ends by itself once the benchmark's JVM is gone,
 * so a killed fork leaves nothing spinning.
 */
@State(Scope.Benchmark)
public class BusyLoad {
    /** Processes each keeping one core busy during the trial. */
    @Param({"0"})
    public int busyCores;

    private final List<Process> loops = new ArrayList<>();

    @Setup(Level.Trial)
    public void start() throws IOException {
        for (int i = 0; i < busyCores; i++) {
            loops.add(new ProcessBuilder("/bin/sh", "-c", "while kill -0 $PPID 2>/dev/null; do :; done").start());
        }
    }

    @TearDown(Level.Trial)
    public void stop() throws InterruptedException {
        for (Process p : loops) p.destroyForcibly();
        for (Process p : loops) p.waitFor(5, TimeUnit.SECONDS);
        loops.clear();
    }
}
