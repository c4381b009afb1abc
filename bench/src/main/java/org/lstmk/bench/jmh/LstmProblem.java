package org.lstmk.bench.jmh;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.lstmk.api.GradientMode;
import org.lstmk.api.Lstm;
import org.lstmk.api.LstmConfig;
import org.lstmk.api.LstmGradients;
import org.lstmk.api.LstmState;
import org.lstmk.api.PackedWeights;
import org.lstmk.api.TrainingWorkspace;
import org.lstmk.verify.RandomData;

/**
 * One benchmarked LSTM: an engine, its packed weights and workspace, and 64-byte aligned native buffers of its own
 * arena; {@code I = H}, zero initial state (as the oneDNN peer benchmark). {@code shape} is {@code HxBxT}.
 */
final class LstmProblem implements AutoCloseable {
    private final Arena arena = Arena.ofShared();
    private final Lstm lstm;
    private final PackedWeights weights;
    private final TrainingWorkspace workspace;
    private final int steps, batch;
    private final MemorySegment x, y, dy, dx;
    private final LstmState last, dInitial;
    private final LstmGradients grads;

    /** @param threads threads per call (CPU backends), 0 for the backend's choice */
    LstmProblem(String backend, String shape, int threads, double inputScale) {
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

    private MemorySegment floats(long n) {
        return arena.allocate(n * Float.BYTES, 64);
    }

    private MemorySegment copy(float[] a) {
        MemorySegment s = floats(a.length);
        MemorySegment.copy(a, 0, s, ValueLayout.JAVA_FLOAT, 0, a.length);
        return s;
    }

    /** The whole sequence forward, inference. */
    MemorySegment inference() {
        lstm.forward(weights, steps, batch, x, null, y, last);
        return y;
    }

    /** Forward training and backward with weight gradients. */
    MemorySegment training() {
        lstm.forwardTraining(weights, steps, batch, x, null, y, last, workspace);
        lstm.backward(weights, workspace, x, dy, null, dx, dInitial, grads, GradientMode.OVERWRITE);
        return dx;
    }

    @Override
    public void close() {
        workspace.close();
        weights.close();
        lstm.close();
        arena.close();
    }
}
