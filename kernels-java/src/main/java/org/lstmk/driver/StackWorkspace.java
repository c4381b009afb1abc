package org.lstmk.driver;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;
import org.lstmk.api.SequenceBatch;
import org.lstmk.spi.BackendWorkspace;

/**
 * What a training forward of the whole stack leaves for backward: for each layer and direction the backend
 * workspaces (one per segment of the batch for a backend without native lengths, grown when a later call needs more
 * and then reused), the output of every layer but the last (the next layer's input, time-major), and the batch
 * shape and order of that forward.
 */
public final class StackWorkspace implements AutoCloseable {
    final int maxSteps, maxBatch;
    private final List<List<Slot>> slots = new ArrayList<>();   // [layer·D + direction][segment]
    private final MemorySegment[] layerOutputs;                 // [layer] for layer < L−1
    private final Arena arena;
    // The last training forward.
    SequenceBatch batch;
    SequenceOrder order;

    /** One backend workspace and the steps × batch it was made for. */
    private record Slot(BackendWorkspace ws, int steps, int batch) {}

    StackWorkspace(int stateLayers, int layers, long layerOutputFloats, int maxSteps, int maxBatch) {
        this.maxSteps = maxSteps;
        this.maxBatch = maxBatch;
        for (int i = 0; i < stateLayers; i++) slots.add(new ArrayList<>());
        this.layerOutputs = new MemorySegment[Math.max(0, layers - 1)];
        this.arena = Arena.ofShared();
        try {
            for (int l = 0; l < layerOutputs.length; l++) layerOutputs[l] = arena.allocate(layerOutputFloats * Float.BYTES, 64);
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /**
     * The backend workspace of segment {@code segment} of layer-direction {@code ld}, holding at least
     * {@code steps × batch}; made (or remade larger) by {@code make(steps, batch)}.
     */
    BackendWorkspace slot(int ld, int segment, int steps, int batch, BiFunction<Integer, Integer, BackendWorkspace> make) {
        List<Slot> s = slots.get(ld);
        while (s.size() <= segment) s.add(null);
        Slot have = s.get(segment);
        if (have != null && have.steps >= steps && have.batch >= batch) return have.ws;
        int t = steps, b = batch;
        if (have != null) {
            t = Math.max(t, have.steps);
            b = Math.max(b, have.batch);
            s.set(segment, null);
            have.ws.close();
        }
        Slot made = new Slot(make.apply(t, b), t, b);
        s.set(segment, made);
        return made.ws;
    }

    /** The saved output of layer {@code layer < L−1}, {@code [maxSteps, maxBatch, D·H_out]} time-major. */
    MemorySegment layerOutput(int layer) {
        return layerOutputs[layer];
    }

    @Override
    public void close() {
        try {
            for (List<Slot> s : slots) {
                for (Slot x : s) if (x != null) x.ws.close();
                s.clear();
            }
        } finally {
            arena.close();
        }
    }
}
