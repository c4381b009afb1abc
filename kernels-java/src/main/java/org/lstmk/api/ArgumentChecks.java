package org.lstmk.api;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongPredicate;

/**
 * Validation of one call's buffers, done in full before anything is written: so a failed call leaves every
 * output as it was. Messages name the argument, the expected and the actual size.
 */
final class ArgumentChecks {
    private final List<Arg> args = new ArrayList<>();

    /**
     * @param valid for a sequence with padding, whether element {@code i} is a valid (non-padding) one: only those
     *              are scanned for NaN and infinities, since padding is never read; null: every element
     */
    private record Arg(String name, MemorySegment seg, long floats, String shape, boolean output, LongPredicate valid,
                       boolean readBack) {
        Arg(String name, MemorySegment seg, long floats, String shape, boolean output, LongPredicate valid) {
            this(name, seg, floats, shape, output, valid, false);
        }
    }

    private boolean readBackOutputs;

    /**
     * Outputs registered from now on are also read (gradients accumulated into): {@link NonFinitePolicy#REJECT}
     * scans them too.
     */
    ArgumentChecks readBack(boolean on) {
        readBackOutputs = on;
        return this;
    }

    /** A required input of {@code floats} elements described as {@code shape}. */
    ArgumentChecks in(String name, MemorySegment seg, long floats, String shape) {
        if (seg == null) throw new NullPointerException(name + ": required " + shape + " input is null");
        return optIn(name, seg, floats, shape);
    }

    /** An optional input (null means zeros). */
    ArgumentChecks optIn(String name, MemorySegment seg, long floats, String shape) {
        if (seg != null) args.add(new Arg(name, seg, floats, shape, false, null));
        return this;
    }

    /** A required input of which only the elements {@code valid} accepts are read (a padded sequence). */
    ArgumentChecks in(String name, MemorySegment seg, long floats, String shape, LongPredicate valid) {
        if (seg == null) throw new NullPointerException(name + ": required " + shape + " input is null");
        args.add(new Arg(name, seg, floats, shape, false, valid));
        return this;
    }

    /** A required output. */
    ArgumentChecks out(String name, MemorySegment seg, long floats, String shape) {
        if (seg == null) throw new NullPointerException(name + ": required " + shape + " output is null");
        return optOut(name, seg, floats, shape);
    }

    /** An optional output (null means not wanted). */
    ArgumentChecks optOut(String name, MemorySegment seg, long floats, String shape) {
        if (seg != null) args.add(new Arg(name, seg, floats, shape, true, null, readBackOutputs));
        return this;
    }

    /** Checks every registered buffer; then, under {@link NonFinitePolicy#REJECT}, scans the inputs. */
    void verify(NonFinitePolicy policy) {
        for (Arg a : args) {
            if (!a.seg.scope().isAlive()) {
                throw new IllegalStateException(a.name + ": memory segment is no longer alive (its arena was closed)");
            }
            if (!a.seg.isAccessibleBy(Thread.currentThread())) {
                throw new IllegalArgumentException(a.name + ": memory segment is confined to another thread "
                        + "(allocate it from a shared or global arena, or call from the thread that owns it)");
            }
            if (a.floats > Integer.MAX_VALUE) {
                throw new IllegalArgumentException(a.name + ": " + a.shape + " has " + a.floats
                        + " elements, more than the supported " + Integer.MAX_VALUE);
            }
            long need = a.floats * Float.BYTES;
            if (a.seg.byteSize() < need) {
                throw new IllegalArgumentException(a.name + ": expected at least " + a.floats + " floats for "
                        + a.shape + ", got " + (a.seg.byteSize() / Float.BYTES) + " (" + a.seg.byteSize() + " bytes)");
            }
            if (a.seg.maxByteAlignment() < Float.BYTES) {
                throw new IllegalArgumentException(a.name + ": segment must be aligned to " + Float.BYTES
                        + " bytes for float access (address alignment is " + a.seg.maxByteAlignment() + ")");
            }
            if (a.output && a.seg.isReadOnly()) {
                throw new IllegalArgumentException(a.name + ": output segment is read-only");
            }
        }
        for (int i = 0; i < args.size(); i++) {
            Arg o = args.get(i);
            if (!o.output) continue;
            MemorySegment os = o.seg.asSlice(0, o.floats * Float.BYTES);
            for (int j = 0; j < args.size(); j++) {
                if (i == j) continue;
                Arg a = args.get(j);
                if (a.output && j < i) continue; // output pairs are reported once
                if (os.asOverlappingSlice(a.seg.asSlice(0, a.floats * Float.BYTES)).isPresent()) {
                    throw new IllegalArgumentException(o.name + " overlaps " + a.name
                            + ": an output may not share memory with any other argument");
                }
            }
        }
        if (policy == NonFinitePolicy.REJECT) {
            for (Arg a : args) if (!a.output || a.readBack) rejectNonFinite(a.name, a.seg, a.floats, a.valid);
        }
    }

    /** Throws naming the first NaN or infinity among the first {@code floats} elements. */
    static void rejectNonFinite(String name, MemorySegment seg, long floats, LongPredicate valid) {
        for (long i = 0; i < floats; i++) {
            if (valid != null && !valid.test(i)) continue;
            float v = seg.getAtIndex(ValueLayout.JAVA_FLOAT, i);
            if (!Float.isFinite(v)) {
                throw new IllegalArgumentException(name + ": element " + i + " is " + v
                        + " (NonFinitePolicy.REJECT)");
            }
        }
    }

    static void positive(String name, int value) {
        if (value < 1) throw new IllegalArgumentException(name + " must be >= 1, got " + value);
    }
}
