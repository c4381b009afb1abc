package org.lstmk.driver;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.EnumMap;
import java.util.Map;

/**
 * Native float buffers of the driver, one per {@link Slot}, grown to the largest request and reused, 64-byte
 * aligned, released by {@link #close()}. A buffer's contents are not kept across a grow.
 */
final class Buffers implements AutoCloseable {
    /** What each buffer holds during one call. */
    enum Slot {
        X_TIME_MAJOR, LAYER_OUT_A, LAYER_OUT_B, DIR_OUT, SEG_X, SEG_Y, SEG_DX,
        H_A, C_A, H_B, C_B, DY_TIME_MAJOR, D_IN_A, D_IN_B, D_DIR_OUT, PACK_X, PACK_Y, PACK_DX
    }

    private record Held(Arena arena, MemorySegment segment) {}

    private final Map<Slot, Held> held = new EnumMap<>(Slot.class);

    /** At least {@code floats} floats for {@code slot}, exactly {@code floats} long. */
    MemorySegment floats(Slot slot, long floats) {
        long bytes = Math.max(1, floats) * Float.BYTES;
        Held h = held.get(slot);
        if (h == null || h.segment.byteSize() < bytes) {
            if (h != null) h.arena.close();
            Arena a = Arena.ofShared();
            held.put(slot, h = new Held(a, a.allocate(bytes, 64)));
        }
        return h.segment.asSlice(0, floats * Float.BYTES);
    }

    /** As {@link #floats}, zero-filled. */
    MemorySegment zeros(Slot slot, long floats) {
        return floats(slot, floats).fill((byte) 0);
    }

    @Override
    public void close() {
        for (Held h : held.values()) h.arena.close();
        held.clear();
    }
}
