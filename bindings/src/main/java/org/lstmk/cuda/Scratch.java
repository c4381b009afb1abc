package org.lstmk.cuda;

import java.util.EnumMap;
import java.util.Map;

/**
 * A backend instance's device buffers for call arguments and intermediates, one per {@link Slot}, each grown to the
 * largest size asked for and then reused, so repeated calls allocate nothing.
 */
final class Scratch implements AutoCloseable {
    /** What a buffer holds. */
    enum Slot {
        X, PROJECTED, H0, C, Y, H_LAST, GATES, DY, DH_LAST, DC, DA, DH0, DX, DW_IH, DW_HH, DB_IH, DB_HH,
        /** {@code [rows, 3H]}: per-row peephole-gradient products, column-summed into {@code dP}. */
        PEEP_ROWS, D_PEEP,
        /** Projection: {@code m} of one step {@code [B, H]}; of every step {@code [rows, H]}; {@code dh} of every step. */
        M, M_ROWS, DH_ROWS, DW_HR
    }

    private final Device device;
    private final Map<Slot, DeviceBuffer> buffers = new EnumMap<>(Slot.class);

    Scratch(Device device) {
        this.device = device;
    }

    /** A buffer of at least {@code count} floats for {@code slot}; previous contents are not kept when it grows. */
    DeviceBuffer floats(Slot slot, long count) {
        long bytes = Math.multiplyExact(Math.max(count, 1), (long) Float.BYTES);
        DeviceBuffer b = buffers.get(slot);
        if (b != null && b.bytes() >= bytes) return b;
        if (b != null) {
            buffers.remove(slot);
            b.close();
        }
        b = device.allocate(bytes);
        buffers.put(slot, b);
        return b;
    }

    @Override
    public void close() {
        DeviceBuffer[] all = buffers.values().toArray(DeviceBuffer[]::new);
        buffers.clear();
        DeviceBuffer.closeAll(all);
    }
}
