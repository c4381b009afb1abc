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
import org.openjdk.jmh.annotations.Warmup;

/**
 * Whole-sequence LSTM through the public API on native, 64-byte aligned buffers ({@link LstmProblem}: {@code I = H},
 * zero initial state, as the oneDNN peer benchmark). {@code shape} is {@code HxBxT}. {@code -p busyCores=1} runs it
 * beside a process that keeps one core busy ({@link BusyLoad}). FLOPs: {@code 2·T·B·4H·(I+H)} for
 * {@link #inference}, three times that for {@link #training} (forward training + backward with weight gradients).
 *
 * <p>After every iteration the CPU time other processes used during it is printed ({@code bg=} cores, from
 * {@code /proc/stat} minus this JVM's own CPU time; see {@link BackgroundLoad}): on a shared machine an iteration
 * with {@code bg} well above 0 was not measured alone.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class LstmBenchmark extends NativeBuffers {
    @Param({"simd"})
    public String backend;

    @Param({"512x16x100"})
    public String shape;

    /** Threads per call (CPU backends); 0 = the backend's choice. */
    @Param({"2"})
    public int threads;

    /** Inputs uniform in ±inputScale: 1 for ordinary data, 100 to saturate the gates. */
    @Param({"1"})
    public double inputScale;

    private LstmProblem problem;

    @Setup(Level.Trial)
    public void setUp() {
        problem = new LstmProblem(backend, shape, threads, inputScale);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        problem.close();
        closeBuffers();
    }

    /** The whole sequence forward; {@code load} adds other processes' work beside it when asked. */
    @Benchmark
    public MemorySegment inference(BusyLoad load) {
        return problem.inference();
    }

    @Benchmark
    public MemorySegment training(BusyLoad load) {
        return problem.training();
    }
}
