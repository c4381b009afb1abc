package org.lstmk.bench.peers;

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
 * Every way to run an LSTM on the JVM, side by side (issue 11 §3): the same single-layer problem ({@link Problem}:
 * seeded weights, {@code I = H}, time-major, zero initial state), the same thread count for every peer, each peer's
 * output checked against our reference before it is timed ({@link Peers#check}: a mismatch fails the setup; for
 * training also the input gradient, {@link Peers#checkTraining}). A
 * peer that cannot run here fails its setup with the reason (JMH reports it and goes on with the others).
 *
 * <p>{@link #inference} and {@link #training} are average time ({@code avgt}) for the batch shapes;
 * {@link #latency} is sample mode (p50, p99, ...) for the {@code B = 1} shapes. {@code shape} is {@code HxBxT}.
 * Run by {@code bench/results/run-peers.sh}, which sets the shapes of each and writes the report.
 */
@State(Scope.Benchmark)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class PeerBenchmark {
    @Param({"simd", "reference", "onednn", "onnxruntime", "djl-pytorch", "tensorflow", "dl4j"})
    public String peer;

    @Param({"512x16x100"})
    public String shape;

    /** Threads every peer is pinned to. */
    @Param({"2"})
    public int threads;

    /** {@code inference} or {@code training}: which call the setup checks and the benchmark method runs. */
    @Param({"inference"})
    public String mode;

    private Peer.Runner runner;

    @Setup(Level.Trial)
    public void setUp() throws Throwable {
        Peer p = Peers.of(peer);
        String why = p.unavailable();
        if (why != null) throw new IllegalStateException("peer " + peer + " skipped: " + why);
        if (mode.equals("training") && !p.supportsTraining())
            throw new IllegalStateException("peer " + peer + " skipped: inference only");
        Problem problem = Problem.of(shape, 7);
        runner = p.open(problem, threads);
        System.out.println("# check: " + Peers.check(peer, problem, runner));
        if (mode.equals("training")) System.out.println("# check: " + Peers.checkTraining(peer, problem, runner));
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        if (runner != null) runner.close();
    }

    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    public void inference() throws Throwable {
        runner.run();
    }

    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    public void training() throws Throwable {
        runner.train();
    }

    @Benchmark
    @BenchmarkMode(Mode.SampleTime)
    public void latency() throws Throwable {
        runner.run();
    }
}
