package org.lstmk.bench.jmh;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Many engines at once, as in a server: each JMH thread (8 by default, {@code -t} to change) calls an engine of its
 * own with {@code threads} threads per call; the score is the calls per second of all of them together. On a machine
 * with fewer cores than engines, {@code threads = 2} must not be slower in total than {@code threads = 1}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Threads(8)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class EnginesBenchmark {
    @Param({"simd"})
    public String backend;

    @Param({"512x1x100"})
    public String shape;

    /** Threads per call of each engine. */
    @Param({"1", "2"})
    public int threads;

    private LstmProblem problem;

    @Setup(Level.Trial)
    public void setUp() {
        problem = new LstmProblem(backend, shape, threads, 1);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        problem.close();
    }

    @Benchmark
    public MemorySegment inference(BusyLoad load) {
        return problem.inference();
    }
}
