package org.lstmk.bench.jmh;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.lstmk.api.GradientMode;
import org.lstmk.api.Lstm;
import org.lstmk.api.LstmConfig;
import org.lstmk.api.LstmState;
import org.lstmk.api.PackedWeights;
import org.lstmk.api.SequenceBatch;
import org.lstmk.api.StackGradients;
import org.lstmk.api.StackWeights;
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
 * The whole layer through the public API: stacks, directions, variable lengths and the cell features, on native
 * 64-byte aligned buffers, {@code I = H}, zero initial state (as the oneDNN peer, whose {@code LSTM_LAYERS} and
 * {@code LSTM_DIRS} run the same stacks). {@code shape} is {@code HxBxT}; {@code features} a {@code +}-separated
 * list of {@code peep}, {@code clip}, {@code proj256} (projection to 256) or {@code plain}; {@code lengths}
 * {@code full} (every sequence T steps) or {@code uniform} (lengths uniform in [1, T], fixed seed: about half the
 * work of the padded batch).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class LayerBenchmark extends NativeBuffers {
    @Param({"simd"})
    public String backend;

    @Param({"512x16x100"})
    public String shape;

    @Param({"1"})
    public int layers;

    @Param({"false"})
    public boolean bidirectional;

    @Param({"plain"})
    public String features;

    @Param({"full"})
    public String lengths;

    @Param({"2"})
    public int threads;

    private Lstm lstm;
    private PackedWeights weights;
    private TrainingWorkspace workspace;
    private SequenceBatch seq;
    private MemorySegment x, y, dy, dx;
    private LstmState last, dInitial;
    private StackGradients grads;

    @Setup(Level.Trial)
    public void setUp() {
        String[] p = shape.split("x");
        int hid = Integer.parseInt(p[0]), batch = Integer.parseInt(p[1]), steps = Integer.parseInt(p[2]);
        LstmConfig.Builder b = LstmConfig.builder(hid, hid).layers(layers).bidirectional(bidirectional);
        for (String f : features.split("\\+")) {
            switch (f) {
                case "plain" -> { }
                case "peep" -> b.peepholes(true);
                case "clip" -> b.cellClip(10f);
                default -> {
                    if (!f.startsWith("proj")) throw new IllegalArgumentException("features: unknown " + f);
                    b.projectionSize(Integer.parseInt(f.substring(4)));
                }
            }
        }
        LstmConfig cfg = b.build();
        RandomData rnd = new RandomData(7);
        StackWeights.Builder wb = StackWeights.builder(cfg);
        for (int l = 0; l < cfg.layers(); l++) for (int d = 0; d < cfg.directions(); d++) wb.set(l, d, rnd.weights(cfg, l));
        lstm = Lstm.builder(cfg).backend(backend).threads(threads).verify(false).build();
        weights = lstm.pack(wb.build());
        workspace = lstm.newWorkspace(steps, batch);
        if (lengths.equals("full")) {
            seq = SequenceBatch.of(steps, batch);
        } else {
            SplittableRandom r = new SplittableRandom(11);
            int[] l = new int[batch];
            for (int i = 0; i < batch; i++) l[i] = 1 + r.nextInt(steps);
            seq = SequenceBatch.of(steps, l);
        }
        int out = cfg.sequenceOutputSize(), n = cfg.stateLayers();
        x = copy(rnd.uniform(steps * batch * hid, 1));
        dy = copy(rnd.uniform(steps * batch * out, 1));
        y = floats((long) steps * batch * out);
        dx = floats((long) steps * batch * hid);
        last = new LstmState(floats((long) n * batch * cfg.outputSize()), floats((long) n * batch * hid));
        dInitial = new LstmState(floats((long) n * batch * cfg.outputSize()), floats((long) n * batch * hid));
        grads = StackGradients.allocate(cfg);
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
        lstm.forward(weights, seq, x, null, y, last);
        return y;
    }

    @Benchmark
    public MemorySegment training() {
        lstm.forwardTraining(weights, seq, x, null, y, last, workspace);
        lstm.backward(weights, workspace, x, dy, null, dx, dInitial, grads, GradientMode.OVERWRITE);
        return dx;
    }
}
