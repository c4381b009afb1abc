package org.lstmk.simd;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A 64-byte aligned, zero-initialised native buffer in its own shared arena (shared: the worker threads use it),
 * that grows on demand. Growing frees the old memory; {@link #close()} frees it for good.
 */
final class NativeBuffer implements AutoCloseable {
    private Arena arena;
    private MemorySegment segment;

    /** A segment of at least {@code bytes}, zero-filled the first time this size is reached. */
    MemorySegment atLeast(long bytes) {
        if (segment == null || segment.byteSize() < bytes) {
            close();
            Arena a = Arena.ofShared();
            try {
                segment = a.allocate(Math.max(bytes, 64), 64);
            } catch (RuntimeException | OutOfMemoryError e) {
                a.close();
                throw e;
            }
            arena = a;
        }
        return segment;
    }

    /** Whether memory is held. */
    boolean isAllocated() { return segment != null; }

    @Override
    public void close() {
        if (arena != null) {
            arena.close();
            arena = null;
            segment = null;
        }
    }
}
