package org.lstmk.bench.jmh;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;
import org.lstmk.api.GradientMode;
import org.lstmk.api.Lstm;
import org.lstmk.api.LstmConfig;
import org.lstmk.api.LstmGradients;
import org.lstmk.api.LstmState;
import org.lstmk.api.PackedWeights;
import org.lstmk.api.TrainingWorkspace;
import org.lstmk.verify.RandomData;
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
 * Whole-sequence LSTM through the public API on native, 64-byte aligned buffers, {@code I = H}, zero initial state
 * (as the oneDNN peer benchmark). {@code shape} is {@code HxBxT}. FLOPs: {@code 2·T·B·4H·(I+H)} for
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

    private Lstm lstm;
    private PackedWeights weights;
    private TrainingWorkspace workspace;
    private int steps, batch;
    private MemorySegment x, y, dy, dx;
    private LstmState last, dInitial;
    private LstmGradients grads;

    @Setup(Level.Trial)
    public void setUp() {
        String[] p = shape.split("x");
        int hid = Integer.parseInt(p[0]);
        batch = Integer.parseInt(p[1]);
        steps = Integer.parseInt(p[2]);
        LstmConfig cfg = LstmConfig.of(hid, hid);
        RandomData rnd = new RandomData(7);
        lstm = Lstm.builder(cfg).backend(backend).threads(threads).verify(false).build();
        weights = lstm.pack(rnd.weights(cfg));
        workspace = lstm.newWorkspace(steps, batch);
        x = copy(rnd.uniform(steps * batch * hid, inputScale));
        dy = copy(rnd.uniform(steps * batch * hid, 1));
        y = floats((long) steps * batch * hid);
        dx = floats((long) steps * batch * hid);
        last = new LstmState(floats((long) batch * hid), floats((long) batch * hid));
        dInitial = new LstmState(floats((long) batch * hid), floats((long) batch * hid));
        int g = 4 * hid;
        grads = LstmGradients.of(floats((long) g * hid), floats((long) g * hid), floats(g), floats(g));
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        workspace.close();
        weights.close();
        lstm.close();
        closeBuffers();
    }

    @Benchmark
    public MemorySegment inference() {
        lstm.forward(weights, steps, batch, x, null, y, last);
        return y;
    }

    @Benchmark
    public MemorySegment training() {
        lstm.forwardTraining(weights, steps, batch, x, null, y, last, workspace);
        lstm.backward(weights, workspace, x, dy, null, dx, dInitial, grads, GradientMode.OVERWRITE);
        return dx;
    }
}
