package org.lstmk.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.lstmk.api.GradientMode;
import org.lstmk.api.Layout;
import org.lstmk.api.Lstm;
import org.lstmk.api.LstmConfig;
import org.lstmk.api.LstmGradients;
import org.lstmk.api.LstmState;
import org.lstmk.api.PackedWeights;
import org.lstmk.api.TrainingWorkspace;
import org.lstmk.verify.RandomData;

/**
 * The persistent forward and backward ({@code lstmk_lstm_forward_sequence*}, {@code lstmk_lstm_backward_sequence*}:
 * every step in one cooperative launch, a grid sync between steps) through the host build, whose cooperative launches
 * run every block at once with a real grid barrier: bit for bit the step launches, for inference, the training
 * forward and the backward, both layouts, every cell variant, with and without h0, B from 1 to one batch tile; used
 * exactly where the backend says (uniform, B ≤ 16, T > 1, no projection, a grid the device holds at once).
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class CudaHostPersistentTest {
    private static final String BACKEND = CudaHostProvider.NAME;

    @AfterEach
    void restore() {
        System.clearProperty(CudaBackend.PERSISTENT_PROPERTY);
    }

    record Case(int in, int hid, int steps, int batch, Layout layout, boolean peepholes, float clip, boolean h0) {
        LstmConfig config() {
            return LstmConfig.builder(in, hid).layout(layout).peepholes(peepholes).cellClip(clip).build();
        }
    }

    static Stream<Case> cases() {
        List<Case> c = new ArrayList<>();
        c.add(new Case(5, 9, 7, 1, Layout.TIME_MAJOR, false, 0, false));
        c.add(new Case(7, 13, 4, 5, Layout.BATCH_MAJOR, false, 0, true));
        c.add(new Case(3, 33, 3, 16, Layout.TIME_MAJOR, true, 0, true));
        c.add(new Case(6, 10, 5, 3, Layout.BATCH_MAJOR, false, 2.5f, false));
        c.add(new Case(4, 17, 2, 9, Layout.TIME_MAJOR, true, 1.5f, true));
        return c.stream();
    }

    /** Inference y, hT, cT; the training forward's y; then backward's dx, dh0, dc0, dW_ih, dW_hh, db. */
    private static float[][] run(Case c, boolean persistent, long seed) {
        if (persistent) System.clearProperty(CudaBackend.PERSISTENT_PROPERTY);
        else System.setProperty(CudaBackend.PERSISTENT_PROPERTY, "false");
        LstmConfig cfg = c.config();
        int t = c.steps, b = c.batch, in = c.in, h = c.hid;
        RandomData rnd = new RandomData(seed);
        float[] x = rnd.uniform(t * b * in, 1), dy = rnd.uniform(t * b * h, 1), h0 = rnd.uniform(b * h, 1),
                c0 = rnd.uniform(b * h, 1);
        float[] y = new float[t * b * h], hT = new float[b * h], cT = new float[b * h], yt = new float[t * b * h],
                dx = new float[t * b * in], dh0 = new float[b * h], dc0 = new float[b * h], dWih = new float[4 * h * in],
                dWhh = new float[4 * h * h], db = new float[4 * h];
        try (Lstm lstm = Lstm.builder(cfg).backend(BACKEND).verify(false).build();
             PackedWeights w = lstm.pack(rnd.weights(cfg));
             TrainingWorkspace ws = lstm.newWorkspace(t, b)) {
            MemorySegment xs = MemorySegment.ofArray(x);
            LstmState initial = c.h0 ? LstmState.of(h0, c0) : null;
            lstm.forward(w, t, b, xs, initial, MemorySegment.ofArray(y), LstmState.of(hT, cT));
            lstm.forwardTraining(w, t, b, xs, initial, MemorySegment.ofArray(yt), null, ws);
            lstm.backward(w, ws, xs, MemorySegment.ofArray(dy), null, MemorySegment.ofArray(dx),
                    LstmState.of(dh0, dc0), LstmGradients.of(dWih, dWhh, db, new float[4 * h]), GradientMode.OVERWRITE);
        }
        return new float[][] {y, hT, cT, yt, dx, dh0, dc0, dWih, dWhh, db};
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void thePersistentKernelsAreBitForBitTheStepLaunches(Case c) {
        long before = HostDevice.processCooperativeLaunches();
        float[][] persistent = run(c, true, 41);
        assertEquals(3, HostDevice.processCooperativeLaunches() - before,
                "inference, training forward and backward persistent");
        float[][] steps = run(c, false, 41);
        for (int i = 0; i < steps.length; i++) assertArrayEquals(steps[i], persistent[i], c + ": output " + i);
        assertTrue(steps[0][0] != 0 || steps[0][1] != 0, "something was computed");
    }

    /** The cases the small batch tile takes (B ≤ 4). */
    static Stream<Case> smallCases() {
        return cases().filter(c -> c.batch <= 4);
    }

    /** Launches of the small-tile forward kernels ({@code _b4}, every cell variant) in this process. */
    private static long smallTileLaunches() {
        long n = 0;
        for (String k : List.of("lstmk_lstm_forward_step_b4", "lstmk_lstm_forward_sequence_b4")) {
            for (String v : CellArgs.VARIANT_SUFFIXES) n += HostDevice.processLaunches(k + v);
        }
        return n;
    }

    /**
     * B ≤ 4 runs on the small batch tile ({@code _b4} kernels: 4 rows, one warp), step launches and persistent alike,
     * with the bits of the 16-row tile (each output's sum runs over k in the same order).
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("smallCases")
    void theSmallBatchTileGivesTheBitsOfTheLargeOne(Case c) {
        for (boolean persistent : new boolean[] {true, false}) {
            long before = smallTileLaunches();
            float[][] smallTile = run(c, persistent, 43);
            assertTrue(smallTileLaunches() > before, c + ": the small tile ran");
            System.setProperty(Kernels.SMALL_TILE_PROPERTY, "false");
            try {
                before = smallTileLaunches();
                float[][] large = run(c, persistent, 43);
                assertEquals(before, smallTileLaunches(), c + ": turned off, the small tile does not run");
                for (int i = 0; i < large.length; i++) {
                    assertArrayEquals(large[i], smallTile[i], c + (persistent ? " persistent" : " steps") + ": output " + i);
                }
            } finally {
                System.clearProperty(Kernels.SMALL_TILE_PROPERTY);
            }
        }
    }

    @Test
    void shapesThePersistentKernelDoesNotTakeRunAsSteps() {
        // B over one batch tile, one step, projection, a grid larger than the device holds at once (129 blocks > 128)
        LstmConfig projection = LstmConfig.builder(4, 9).projectionSize(3).build();
        Object[][] shapes = {{LstmConfig.of(4, 9), 2, 17}, {LstmConfig.of(4, 9), 1, 3}, {projection, 3, 2},
                             {LstmConfig.of(2, 1030), 2, 1}};
        for (Object[] s : shapes) {
            LstmConfig cfg = (LstmConfig) s[0];
            int t = (int) s[1], b = (int) s[2];
            long before = HostDevice.processCooperativeLaunches();
            try (Lstm lstm = Lstm.builder(cfg).backend(BACKEND).verify(false).build();
                 PackedWeights w = lstm.pack(new RandomData(3).weights(cfg))) {
                float[] y = new float[t * b * cfg.outputSize()];
                lstm.forward(w, t, b, MemorySegment.ofArray(new RandomData(4).uniform(t * b * cfg.inputSize(), 1)),
                        null, MemorySegment.ofArray(y), null);
            }
            assertEquals(0, HostDevice.processCooperativeLaunches() - before, cfg + " T=" + t + " B=" + b);
        }
    }
}
