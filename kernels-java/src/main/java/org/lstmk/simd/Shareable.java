package org.lstmk.simd;

import java.lang.foreign.MemorySegment;

/** Whether the caller's segments may be touched by the worker threads (not confined to the calling thread). */
final class Shareable {
    private Shareable() {}

    /** A thread that is never started: a segment it may access is not confined to any one thread. */
    private static final Thread STRANGER = Thread.ofPlatform().unstarted(() -> {});

    /** True when every non-null segment is accessible from any thread (heap, global, auto or shared arena). */
    static boolean all(MemorySegment... segments) {
        for (MemorySegment s : segments) {
            if (s != null && !s.isAccessibleBy(STRANGER)) return false;
        }
        return true;
    }
}
