package org.lstmk.bench.jmh;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;

/**
 * What the LSTM benchmarks share: 64-byte aligned native buffers from one arena (closed with the trial), and the
 * background-load line after every iteration ({@link BackgroundLoad}: on a shared machine an iteration with
 * {@code bg} well above 0 was not measured alone).
 */
abstract class NativeBuffers {
    private final Arena arena = Arena.ofShared();
    private final BackgroundLoad load = new BackgroundLoad();

    MemorySegment floats(long n) {
        return arena.allocate(n * Float.BYTES, 64);
    }

    MemorySegment copy(float[] a) {
        MemorySegment s = floats(a.length);
        MemorySegment.copy(a, 0, s, ValueLayout.JAVA_FLOAT, 0, a.length);
        return s;
    }

    @Setup(Level.Iteration)
    public void startIteration() {
        load.start();
    }

    @TearDown(Level.Iteration)
    public void endIteration() {
        load.report();
    }

    /** Releases the buffers; subclasses close what uses them first. */
    void closeBuffers() {
        arena.close();
    }
}
