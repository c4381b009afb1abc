package org.lstmk.bench.peers;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.lstmk.api.GradientMode;
import org.lstmk.api.Lstm;
import org.lstmk.api.LstmGradients;
import org.lstmk.api.LstmState;
import org.lstmk.api.PackedWeights;
import org.lstmk.api.TrainingWorkspace;

/** This library, one backend ({@code simd} or {@code reference}), on native 64-byte aligned buffers. */
public final class OursPeer implements Peer {
    private final String backend;

    public OursPeer(String backend) {
        this.backend = backend;
    }

    @Override
    public String name() {
        return backend;
    }

    @Override
    public boolean supportsTraining() {
        return true;
    }

    @Override
    public Runner open(Problem p, int threads) {
        Arena arena = Arena.ofShared();
        Lstm lstm = Lstm.builder(p.config()).backend(backend).threads(threads).verify(false).build();
        PackedWeights w = lstm.pack(p.weights());
        int T = p.steps(), B = p.batch(), H = p.hidden(), G = 4 * H;
        MemorySegment x = copy(arena, p.x()), dy = copy(arena, p.dy());
        MemorySegment y = floats(arena, (long) T * B * H), dx = floats(arena, (long) T * B * H);
        LstmState last = new LstmState(floats(arena, (long) B * H), floats(arena, (long) B * H));
        LstmState d0 = new LstmState(floats(arena, (long) B * H), floats(arena, (long) B * H));
        LstmGradients g = LstmGradients.of(floats(arena, (long) G * H), floats(arena, (long) G * H), floats(arena, G),
                floats(arena, G));
        return new Runner() {
            TrainingWorkspace ws;

            @Override
            public void run() {
                lstm.forward(w, T, B, x, null, y, last);
            }

            @Override
            public void train() {
                if (ws == null) ws = lstm.newWorkspace(T, B);
                lstm.forwardTraining(w, T, B, x, null, y, last, ws);
                lstm.backward(w, ws, x, dy, null, dx, d0, g, GradientMode.OVERWRITE);
            }

            @Override
            public float[] inputGradient() {
                return dx.toArray(ValueLayout.JAVA_FLOAT);
            }

            @Override
            public float[] output() {
                return y.toArray(ValueLayout.JAVA_FLOAT);
            }

            @Override
            public void close() {
                if (ws != null) ws.close();
                w.close();
                lstm.close();
                arena.close();
            }
        };
    }

    static MemorySegment floats(Arena a, long n) {
        return a.allocate(n * 4, 64);
    }

    static MemorySegment copy(Arena a, float[] v) {
        MemorySegment s = floats(a, v.length);
        MemorySegment.copy(v, 0, s, ValueLayout.JAVA_FLOAT, 0, v.length);
        return s;
    }
}
