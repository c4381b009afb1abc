package org.lstmk.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.lstmk.api.GradientMode;
import org.lstmk.api.Lstm;
import org.lstmk.api.LstmConfig;
import org.lstmk.api.LstmGradients;
import org.lstmk.api.LstmState;
import org.lstmk.api.PackedWeights;
import org.lstmk.api.TrainingWorkspace;
import org.lstmk.verify.RandomData;

/**
 * Launch chains ({@link LaunchChain}, CUDA graphs on a GPU) through the host build, which runs an equal later chain
 * from the launches of the first one, as a GPU replays the graph it made of the first: a repeated call replays (and
 * gives what a fresh engine gives for the same data), and a call that differs in anything a kernel sees (steps,
 * batch, a pointer that is null or not, another buffer) is recorded anew, never replayed with the old arguments.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class CudaHostGraphTest {
    private static final String BACKEND = CudaHostProvider.NAME;
    private static final int IN = 7, HID = 9;

    /** These small uniform forwards would run as one persistent kernel, outside any chain (CudaHostPersistentTest). */
    @BeforeEach
    void stepLaunches() {
        System.setProperty(CudaBackend.PERSISTENT_PROPERTY, "false");
    }

    @AfterEach
    void restore() {
        System.clearProperty(CudaBackend.PERSISTENT_PROPERTY);
    }

    /** Everything one training step produces, h0/c0 given or not. */
    private static float[][] trainingStep(Lstm lstm, PackedWeights w, TrainingWorkspace ws, int t, int b,
                                          boolean initialState, long seed) {
        RandomData rnd = new RandomData(seed);
        float[] x = rnd.uniform(t * b * IN, 1), dy = rnd.uniform(t * b * HID, 1);
        float[] h0 = rnd.uniform(b * HID, 1), c0 = rnd.uniform(b * HID, 1);
        float[] y = new float[t * b * HID], hT = new float[b * HID], cT = new float[b * HID], dx = new float[t * b * IN],
                dh0 = new float[b * HID], dc0 = new float[b * HID], dWih = new float[4 * HID * IN],
                dWhh = new float[4 * HID * HID], db = new float[4 * HID];
        MemorySegment xs = MemorySegment.ofArray(x);
        lstm.forwardTraining(w, t, b, xs, initialState ? LstmState.of(h0, c0) : null, MemorySegment.ofArray(y),
                LstmState.of(hT, cT), ws);
        lstm.backward(w, ws, xs, MemorySegment.ofArray(dy), null, MemorySegment.ofArray(dx), LstmState.of(dh0, dc0),
                LstmGradients.of(dWih, dWhh, db, new float[4 * HID]), GradientMode.OVERWRITE);
        return new float[][] {y, hT, cT, dx, dh0, dc0, dWih, dWhh, db};
    }

    /** The same step on a fresh engine: new buffers, so its chains are recorded anew. */
    private static float[][] fresh(int t, int b, boolean initialState, long seed) {
        LstmConfig cfg = LstmConfig.of(IN, HID);
        try (Lstm lstm = Lstm.builder(cfg).backend(BACKEND).verify(false).build();
             PackedWeights w = lstm.pack(new RandomData(1).weights(cfg));
             TrainingWorkspace ws = lstm.newWorkspace(8, 8)) {
            return trainingStep(lstm, w, ws, t, b, initialState, seed);
        }
    }

    private static long[] delta(long[] before) {
        long[] now = HostDevice.processChainHitsAndMisses();
        return new long[] {now[0] - before[0], now[1] - before[1]};
    }

    private static void assertSame(float[][] expected, float[][] actual, String what) {
        for (int i = 0; i < expected.length; i++) assertArrayEquals(expected[i], actual[i], what + ": output " + i);
    }

    @Test
    void aRepeatedCallReplaysItsChainsWithTheNewData() {
        float[][] expected = fresh(6, 4, true, 22);
        LstmConfig cfg = LstmConfig.of(IN, HID);
        try (Lstm lstm = Lstm.builder(cfg).backend(BACKEND).verify(false).build();
             PackedWeights w = lstm.pack(new RandomData(1).weights(cfg));
             TrainingWorkspace ws = lstm.newWorkspace(8, 8)) {
            long[] before = HostDevice.processChainHitsAndMisses();
            float[][] first = trainingStep(lstm, w, ws, 6, 4, true, 21);
            assertArrayEquals(new long[] {0, 2}, delta(before), "first call: its forward and backward chains are new");
            before = HostDevice.processChainHitsAndMisses();
            float[][] second = trainingStep(lstm, w, ws, 6, 4, true, 22);
            assertArrayEquals(new long[] {2, 0}, delta(before), "same shapes and buffers: both chains replayed");
            assertSame(expected, second, "replayed with new data");
            assertNotEquals(first[0][0], second[0][0], "the data differed");
        }
    }

    @Test
    void aCallThatDiffersInWhatAKernelSeesIsRecordedAnew() {
        LstmConfig cfg = LstmConfig.of(IN, HID);
        try (Lstm lstm = Lstm.builder(cfg).backend(BACKEND).verify(false).build();
             PackedWeights w = lstm.pack(new RandomData(1).weights(cfg));
             TrainingWorkspace ws = lstm.newWorkspace(8, 8)) {
            trainingStep(lstm, w, ws, 6, 4, true, 31);
            // Without h0 the first forward step's h pointer is null (with it, a buffer): a replay would read the old
            // h0. The backward chain does not see h0 and is replayed. Other steps or batch: both chains are new.
            record Call(int t, int b, boolean initialState, long replayed, long recorded) {}
            for (Call c : List.of(new Call(6, 4, false, 1, 1), new Call(5, 4, true, 0, 2), new Call(6, 3, true, 0, 2))) {
                long[] before = HostDevice.processChainHitsAndMisses();
                float[][] out = trainingStep(lstm, w, ws, c.t, c.b, c.initialState, 32);
                assertArrayEquals(new long[] {c.replayed, c.recorded}, delta(before), c + ": chains replayed, recorded");
                assertSame(fresh(c.t, c.b, c.initialState, 32), out, c.toString());
            }
            // another workspace of the same size: only pointers differ, and a replay would use the first one's
            try (TrainingWorkspace other = lstm.newWorkspace(8, 8)) {
                long[] before = HostDevice.processChainHitsAndMisses();
                float[][] out = trainingStep(lstm, w, other, 6, 4, true, 33);
                assertArrayEquals(new long[] {0, 2}, delta(before), "another workspace: chains replayed, recorded");
                assertSame(fresh(6, 4, true, 33), out, "another workspace");
            }
        }
    }

    @Test
    void theCacheKeepsTheMostRecentChainsAndReleasesTheRest() {
        List<Integer> released = new ArrayList<>();
        LaunchChain.Cache<Integer> cache = new LaunchChain.Cache<>(2, released::add);
        LaunchChain a = chain(1), b = chain(2), c = chain(3);
        assertEquals(10, cache.get(a, x -> 10));
        assertEquals(20, cache.get(b, x -> 20));
        assertEquals(10, cache.get(chain(1), x -> 11), "an equal chain finds the first one's entry");
        assertEquals(30, cache.get(c, x -> 30));
        assertEquals(List.of(20), released, "the least recently used entry is released");
        assertEquals(21, cache.get(b, x -> 21), "made anew once dropped");
        assertEquals(1, cache.hits());
        assertEquals(4, cache.misses());
        cache.clear();
        assertEquals(List.of(20, 10, 30, 21), released);
        assertThrows(IllegalArgumentException.class, () -> new LaunchChain.Cache<Integer>(0, x -> {}));
    }

    /** A one-launch chain whose only argument is {@code v}. */
    private static LaunchChain chain(int v) {
        return new LaunchChain(List.of(new LaunchChain.Launch(K, Dim3.of(1), Dim3.of(32), 0, new KernelArgs().i32(v))));
    }

    private static final DeviceKernel K = () -> "k";
}
