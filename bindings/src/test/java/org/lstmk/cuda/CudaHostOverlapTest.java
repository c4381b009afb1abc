package org.lstmk.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
import org.lstmk.api.SequenceBatch;
import org.lstmk.api.TrainingWorkspace;
import org.lstmk.verify.RandomData;

/**
 * The host path that keeps up with the kernels, through the host build: copies cut by steps and overlapped with the
 * kernels on the copy stream ({@link StepChunks}), in both orders the host device may run its two streams (a missing
 * wait would show as wrong bits in one of them); the training forward's input kept on the device for backward; and
 * ACCUMULATE gradients added on the way down instead of making a round trip. Every variant gives the bits of the
 * plain path.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class CudaHostOverlapTest {
    private static final String BACKEND = CudaHostProvider.NAME;

    @AfterEach
    void restore() {
        System.clearProperty(StepChunks.PROPERTY);
        System.clearProperty(StepChunks.MIN_BYTES_PROPERTY);
        System.clearProperty(CudaBackend.PERSISTENT_PROPERTY);
        HostDevice.streamOrder(HostDevice.StreamOrder.ALTERNATE);
    }

    record Case(int in, int hid, int proj, int steps, int batch, Layout layout, boolean peepholes, int[] lengths) {
        LstmConfig config() {
            LstmConfig.Builder b = LstmConfig.builder(in, hid).layout(layout).peepholes(peepholes);
            if (proj > 0) b.projectionSize(proj);
            return b.build();
        }

        int out() { return proj > 0 ? proj : hid; }

        SequenceBatch sequences() {
            return lengths == null ? SequenceBatch.of(steps, batch) : SequenceBatch.of(steps, lengths);
        }

        @Override public String toString() {
            return in + "x" + hid + (proj > 0 ? "p" + proj : "") + " T" + steps + " B" + batch + " " + layout
                    + (peepholes ? " peepholes" : "") + (lengths != null ? " packed" : "");
        }
    }

    static Stream<Case> cases() {
        List<Case> c = new ArrayList<>();
        c.add(new Case(5, 9, 0, 9, 3, Layout.TIME_MAJOR, false, null));       // persistent, 4 chunks
        c.add(new Case(7, 13, 0, 5, 20, Layout.TIME_MAJOR, true, null));      // steps (B > 16), 2 chunks
        c.add(new Case(6, 11, 4, 7, 2, Layout.TIME_MAJOR, false, null));      // projection: steps
        c.add(new Case(4, 10, 0, 8, 4, Layout.TIME_MAJOR, false, new int[] {8, 6, 6, 2}));   // packed
        c.add(new Case(3, 8, 0, 6, 5, Layout.BATCH_MAJOR, false, null));      // not contiguous: one chunk
        return c.stream();
    }

    /**
     * Inference y, hT, cT; the training forward's y; backward's dx, dh0, dc0 and the gradients, accumulated onto
     * non-zero values.
     */
    private static float[][] run(Case c, long seed) {
        LstmConfig cfg = c.config();
        int t = c.steps, b = c.batch, in = c.in, h = c.hid, o = c.out();
        RandomData rnd = new RandomData(seed);
        float[] x = rnd.uniform(t * b * in, 1), dy = rnd.uniform(t * b * o, 1), h0 = rnd.uniform(b * o, 1),
                c0 = rnd.uniform(b * h, 1);
        float[] y = new float[t * b * o], hT = new float[b * o], cT = new float[b * h], yt = new float[t * b * o],
                dx = new float[t * b * in], dh0 = new float[b * o], dc0 = new float[b * h],
                dWih = rnd.uniform(4 * h * in, 1), dWhh = rnd.uniform(4 * h * o, 1), db = rnd.uniform(4 * h, 1),
                dbHh = rnd.uniform(4 * h, 1);
        try (Lstm lstm = Lstm.builder(cfg).backend(BACKEND).verify(false).build();
             PackedWeights w = lstm.pack(rnd.weights(cfg));
             TrainingWorkspace ws = lstm.newWorkspace(t, b)) {
            MemorySegment xs = MemorySegment.ofArray(x);
            LstmState initial = LstmState.of(h0, c0);
            lstm.forward(w, c.sequences(), xs, initial, MemorySegment.ofArray(y), LstmState.of(hT, cT));
            lstm.forwardTraining(w, c.sequences(), xs, initial, MemorySegment.ofArray(yt), null, ws);
            LstmGradients g = LstmGradients.of(dWih, dWhh, db, dbHh);
            lstm.backward(w, ws, xs, MemorySegment.ofArray(dy), null, MemorySegment.ofArray(dx),
                    LstmState.of(dh0, dc0), g, GradientMode.ACCUMULATE);
        }
        return new float[][] {y, hT, cT, yt, dx, dh0, dc0, dWih, dWhh, db, dbHh};
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void overlappedCopiesGiveThePlainPathsBitsInEitherStreamOrder(Case c) {
        System.setProperty(StepChunks.PROPERTY, "false");
        float[][] plain = run(c, 51);
        System.clearProperty(StepChunks.PROPERTY);
        System.setProperty(StepChunks.MIN_BYTES_PROPERTY, "0");
        boolean contiguous = c.layout == Layout.TIME_MAJOR;
        for (HostDevice.StreamOrder order : HostDevice.StreamOrder.values()) {
            HostDevice.streamOrder(order);
            long before = HostDevice.processCopyStreamOps();
            float[][] overlapped = run(c, 51);
            assertEquals(contiguous, HostDevice.processCopyStreamOps() > before,
                    c + ": the copy stream is used exactly when steps are consecutive rows");
            for (int i = 0; i < plain.length; i++) {
                assertArrayEquals(plain[i], overlapped[i], c + ", " + order + ": output " + i);
            }
        }
        assertTrue(plain[0][0] != 0 || plain[0][1] != 0, "something was computed");
    }

    @Test
    void smallCallsAreNotCutAndTheSwitchTurnsCuttingOff() {
        Case c = cases().findFirst().orElseThrow();
        long before = HostDevice.processCopyStreamOps();
        run(c, 52);   // a few hundred bytes: under the default threshold
        assertEquals(before, HostDevice.processCopyStreamOps(), "small calls stay on the main stream");
        System.setProperty(StepChunks.MIN_BYTES_PROPERTY, "0");
        System.setProperty(StepChunks.PROPERTY, "false");
        run(c, 52);
        assertEquals(before, HostDevice.processCopyStreamOps(), "-D" + StepChunks.PROPERTY + "=false");
        assertEquals(1, StepChunks.of(9, true, 1L << 30).count(), "switched off");
        System.clearProperty(StepChunks.PROPERTY);
        assertEquals(4, StepChunks.of(9, true, 1L << 30).count());
        assertEquals(1, StepChunks.of(9, false, 1L << 30).count(), "rows of a step range not consecutive");
        StepChunks k = StepChunks.of(9, true, 1L << 30);
        assertEquals(List.of(0, 2, 4, 6), List.of(k.from(0), k.from(1), k.from(2), k.from(3)));
        assertEquals(9, k.to(3));
        assertEquals(1, StepChunks.of(3, true, 1L << 30).count(), "chunks of at least two steps");
    }

    /**
     * The training forward's input stays on the device: backward given the same segment uploads rows·I floats less
     * than given an equal copy, with the same bits; ACCUMULATE uploads no gradients and adds with one rounding.
     */
    @Test
    void backwardReusesTheForwardsInputAndAccumulatesWithoutARoundTrip() {
        int t = 6, b = 3, in = 5, h = 7;
        LstmConfig cfg = LstmConfig.of(in, h);
        RandomData rnd = new RandomData(53);
        float[] x = rnd.uniform(t * b * in, 1), dy = rnd.uniform(t * b * h, 1);
        float[] g0 = rnd.uniform(4 * h * in, 1);
        try (Lstm lstm = Lstm.builder(cfg).backend(BACKEND).verify(false).build();
             PackedWeights w = lstm.pack(rnd.weights(cfg));
             TrainingWorkspace ws = lstm.newWorkspace(t, b)) {
            MemorySegment xs = MemorySegment.ofArray(x);
            lstm.forwardTraining(w, t, b, xs, null, MemorySegment.ofArray(new float[t * b * h]), null, ws);
            float[][] same = gradients(h, in), copy = gradients(h, in), acc = gradients(h, in);
            long at = HostDevice.processUploadedBytes();
            backward(lstm, w, ws, xs, dy, same, GradientMode.OVERWRITE);
            long sameBytes = HostDevice.processUploadedBytes() - at;
            at = HostDevice.processUploadedBytes();
            backward(lstm, w, ws, MemorySegment.ofArray(x.clone()), dy, copy, GradientMode.OVERWRITE);
            assertEquals((long) t * b * in * Float.BYTES, HostDevice.processUploadedBytes() - at - sameBytes,
                    "another segment is uploaded, the forward's own is not");
            for (int i = 0; i < same.length; i++) assertArrayEquals(copy[i], same[i], "gradient " + i);

            System.arraycopy(g0, 0, acc[0], 0, g0.length);
            at = HostDevice.processUploadedBytes();
            backward(lstm, w, ws, xs, dy, acc, GradientMode.ACCUMULATE);
            assertEquals(sameBytes, HostDevice.processUploadedBytes() - at, "ACCUMULATE uploads no gradients");
            for (int i = 0; i < g0.length; i++) {
                assertEquals(Float.floatToIntBits(g0[i] + same[0][i]), Float.floatToIntBits(acc[0][i]), "dW_ih " + i);
            }
            assertArrayEquals(same[1], acc[1], "dW_hh accumulated onto zeros");
            assertFalse(java.util.Arrays.equals(same[0], acc[0]), "the starting values were added");
        }
    }

    private static float[][] gradients(int h, int in) {
        return new float[][] {new float[4 * h * in], new float[4 * h * h], new float[4 * h], new float[4 * h]};
    }

    private static void backward(Lstm lstm, PackedWeights w, TrainingWorkspace ws, MemorySegment x, float[] dy,
                                 float[][] g, GradientMode mode) {
        lstm.backward(w, ws, x, MemorySegment.ofArray(dy), null, null, null, LstmGradients.of(g[0], g[1], g[2], g[3]),
                mode);
    }

    /**
     * Pinned memory from the engine: copied without staging (read when the copy runs), the same results as heap
     * memory, valid after the engine closes, freed with its arena.
     */
    @Test
    void pinnedMemoryFromTheEngineIsCopiedDirectlyAndOutlivesIt() {
        int t = 6, b = 3, in = 5, h = 7;
        LstmConfig cfg = LstmConfig.of(in, h);
        RandomData rnd = new RandomData(54);
        float[] x = rnd.uniform(t * b * in, 1);
        float[] y = new float[t * b * h];
        MemorySegment xp, yp;
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofShared()) {
            try (Lstm lstm = Lstm.builder(cfg).backend(BACKEND).verify(false).build();
                 PackedWeights w = lstm.pack(rnd.weights(cfg))) {
                xp = lstm.allocateHost((long) x.length * Float.BYTES, arena);
                yp = lstm.allocateHost((long) y.length * Float.BYTES, arena);
                xp.copyFrom(MemorySegment.ofArray(x));
                System.setProperty(StepChunks.MIN_BYTES_PROPERTY, "0");
                long before = HostDevice.processPinnedUploads();
                lstm.forward(w, t, b, xp, null, yp, null);
                assertTrue(HostDevice.processPinnedUploads() > before, "x went up without staging");
                lstm.forward(w, t, b, MemorySegment.ofArray(x), null, MemorySegment.ofArray(y), null);
                IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(
                        IllegalArgumentException.class, () -> lstm.allocateHost(-1, arena));
                assertTrue(e.getMessage().startsWith("bytes"), e.getMessage());
            }
            assertArrayEquals(y, yp.toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT), "pinned and heap agree");
            yp.fill((byte) 1);   // still valid after the engine closed
        }
        assertFalse(xp.scope().isAlive(), "freed with the arena");
        try (Lstm ref = Lstm.builder(cfg).backend("reference").build();
             java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            MemorySegment m = ref.allocateHost(100, arena);
            assertEquals(100, m.byteSize());
            assertEquals(0, m.address() % 64);
        }
    }
}
