package org.lstmk.api;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.lstmk.api.ApiCall.Arg;
import org.lstmk.api.CallFixture.Op;

/**
 * Every buffer rule of the public API, tried on every buffer argument of every entry point (pack, forward,
 * forwardTraining, backward, cellForward, cellBackward): too short, longer than needed, closed, misaligned,
 * read-only, missing, overlapping; each rejected call must name the argument (with the expected and the actual
 * size where sizes are the problem) and change nothing: no byte of any argument, no workspace state.
 */
class BufferValidationTest {

    /** Runs {@code test} on a fresh fixture, for each (op, argument) that {@code filter} accepts. */
    private static Stream<DynamicTest> each(String rule, BiFunction<ApiCall, Arg, Boolean> filter,
                                            TriConsumer test) {
        List<DynamicTest> tests = new ArrayList<>();
        try (CallFixture probe = new CallFixture(NonFinitePolicy.PROPAGATE)) {
            for (Op op : Op.values()) {
                ApiCall c = probe.call(op);
                for (Arg a : c.spec) {
                    if (!filter.apply(c, a)) continue;
                    tests.add(dynamicTest(c.method + ": " + a.name() + " " + rule, () -> {
                        try (CallFixture f = new CallFixture(NonFinitePolicy.PROPAGATE)) {
                            test.accept(f, f.call(op), a);
                        }
                    }));
                }
            }
        }
        return tests.stream();
    }

    @FunctionalInterface
    interface TriConsumer {
        void accept(CallFixture f, ApiCall call, Arg arg) throws Exception;
    }

    @TestFactory
    Stream<DynamicTest> everyBufferOneFloatShortIsRejectedWithBothSizes() {
        return each("one float short", (c, a) -> true, (f, call, a) ->
                call.with(a.name(), call.resized(a.name(), -1)).assertFails(IllegalArgumentException.class,
                        a.name() + ": expected at least " + a.floats() + " floats for " + a.shape(),
                        "got " + (a.floats() - 1) + " (" + (a.floats() - 1) * 4 + " bytes)"));
    }

    @TestFactory
    Stream<DynamicTest> everyBufferMayBeLongerAndOutputsLeaveTheExtraUntouched() {
        return each("three floats longer", (c, a) -> true, (f, call, a) -> {
            MemorySegment longer = call.resized(a.name(), 3);
            ApiCall c = call.with(a.name(), longer);
            c.run();
            float[] all = longer.toArray(ValueLayout.JAVA_FLOAT);
            for (int k = all.length - 3; k < all.length; k++) {
                assertEquals(ApiCall.SENTINEL, all[k], a.name() + ": element " + k + " past the shape was written");
            }
            if (a.output()) {
                assertNotEquals(ApiCall.SENTINEL, all[0], a.name() + ": the output itself was not written");
            }
        });
    }

    @TestFactory
    Stream<DynamicTest> everyBufferFromAClosedArenaIsRejected() {
        return each("from a closed arena", (c, a) -> true, (f, call, a) -> {
            MemorySegment dead;
            try (Arena arena = Arena.ofConfined()) {
                dead = call.nativeCopy(a.name(), arena, 0);
            }
            call.with(a.name(), dead).assertFails(IllegalStateException.class,
                    a.name() + ": memory segment is no longer alive");
        });
    }

    @TestFactory
    Stream<DynamicTest> everyBufferMisalignedByTwoBytesIsRejected() {
        return each("at byte offset 2 of a native segment", (c, a) -> true, (f, call, a) -> {
            try (Arena arena = Arena.ofConfined()) {
                call.with(a.name(), call.nativeCopy(a.name(), arena, 2)).assertFails(IllegalArgumentException.class,
                        a.name() + ": segment must be aligned to 4 bytes", "alignment is 2");
            }
        });
    }

    @TestFactory
    Stream<DynamicTest> everyBufferInNativeMemoryIsAccepted() {
        // The same call on native copies at an aligned offset gives the same outputs as on heap arrays.
        return each("in native memory", (c, a) -> true, (f, call, a) -> {
            try (CallFixture g = new CallFixture(NonFinitePolicy.PROPAGATE); Arena arena = Arena.ofConfined()) {
                ApiCall heap = g.call(opOf(call));
                heap.run();
                ApiCall off = call.with(a.name(), call.nativeCopy(a.name(), arena, 4));
                off.run();
                assertOutputsEqual(heap.outputValues(), off.outputValues());
            }
        });
    }

    @TestFactory
    Stream<DynamicTest> everyReadOnlyOutputIsRejected() {
        return each("read-only", (c, a) -> a.output(), (f, call, a) ->
                call.with(a.name(), call.args.get(a.name()).asReadOnly()).assertFails(IllegalArgumentException.class,
                        a.name() + ": output segment is read-only"));
    }

    @TestFactory
    Stream<DynamicTest> readOnlyInputsAreAccepted() {
        List<DynamicTest> tests = new ArrayList<>();
        for (Op op : Op.values()) {
            tests.add(dynamicTest(op + ": every input read-only", () -> {
                try (CallFixture f = new CallFixture(NonFinitePolicy.PROPAGATE);
                     CallFixture g = new CallFixture(NonFinitePolicy.PROPAGATE)) {
                    ApiCall call = f.call(op), plain = g.call(op);
                    for (Arg a : call.inputs()) call = call.with(a.name(), call.args.get(a.name()).asReadOnly());
                    call.run();
                    plain.run();
                    assertOutputsEqual(plain.outputValues(), call.outputValues());
                }
            }));
        }
        return tests.stream();
    }

    @TestFactory
    Stream<DynamicTest> everyRequiredBufferThatIsNullIsRejected() {
        return each("null although required", (c, a) -> a.required() && !c.method.equals("pack"), (f, call, a) ->
                call.with(a.name(), null).assertFails(NullPointerException.class,
                        a.name() + ": required " + a.shape() + (a.output() ? " output" : " input") + " is null"));
    }

    @TestFactory
    Stream<DynamicTest> everyOptionalBufferMayBeNull() {
        // A missing input means zeros; a missing output is not computed and changes none of the others.
        return each("null (optional)", (c, a) -> !a.required() && !a.name().startsWith("gradients.")
                        && !c.method.equals("pack"), // the weights record itself pairs the biases
                (f, call, a) -> {
                    try (CallFixture g = new CallFixture(NonFinitePolicy.PROPAGATE)) {
                        ApiCall withNull = call.with(a.name(), null);
                        ApiCall explicit = g.call(opOf(call));
                        if (!a.output()) {
                            explicit = explicit.with(a.name(), MemorySegment.ofArray(new float[(int) a.floats()]));
                        }
                        withNull.run();
                        explicit.run();
                        Map<String, float[]> expected = explicit.outputValues();
                        expected.remove(a.name());
                        assertOutputsEqual(expected, withNull.outputValues());
                    }
                });
    }

    @TestFactory
    Stream<DynamicTest> weightGradientsMayBeOmittedAltogether() {
        List<DynamicTest> tests = new ArrayList<>();
        for (Op op : new Op[] {Op.BACKWARD, Op.CELL_BACKWARD}) {
            tests.add(dynamicTest(op + " without weight gradients", () -> {
                try (CallFixture f = new CallFixture(NonFinitePolicy.PROPAGATE);
                     CallFixture g = new CallFixture(NonFinitePolicy.PROPAGATE)) {
                    ApiCall call = f.call(op), full = g.call(op);
                    for (String n : List.of("gradients.dWih", "gradients.dWhh", "gradients.dbIh", "gradients.dbHh")) {
                        call = call.with(n, null);
                    }
                    call.run();
                    full.run();
                    Map<String, float[]> expected = full.outputValues();
                    expected.keySet().removeIf(n -> n.startsWith("gradients."));
                    assertOutputsEqual(expected, call.outputValues());
                }
            }));
        }
        return tests.stream();
    }

    /**
     * Each output against each other argument: views of one buffer that share one float are rejected naming both;
     * adjacent views of the same buffer (sharing none) are accepted.
     */
    @TestFactory
    Stream<DynamicTest> everyOutputOverlappingAnyOtherArgumentIsRejected() {
        List<DynamicTest> tests = new ArrayList<>();
        try (CallFixture probe = new CallFixture(NonFinitePolicy.PROPAGATE)) {
            for (Op op : Op.values()) {
                ApiCall c = probe.call(op);
                List<Arg> spec = c.spec;
                for (int i = 0; i < spec.size(); i++) {
                    Arg out = spec.get(i);
                    if (!out.output()) continue;
                    for (int j = 0; j < spec.size(); j++) {
                        Arg other = spec.get(j);
                        if (j == i || (other.output() && j > i)) continue; // each pair of outputs once
                        for (boolean overlap : new boolean[] {true, false}) {
                            String name = c.method + ": " + out.name() + (overlap ? " overlaps " : " adjacent to ")
                                    + other.name();
                            tests.add(dynamicTest(name, () -> {
                                try (CallFixture f = new CallFixture(NonFinitePolicy.PROPAGATE)) {
                                    sharedBuffer(f.call(op), other, out, overlap);
                                }
                            }));
                        }
                    }
                }
            }
        }
        return tests.stream();
    }

    /** {@code other} at the start of one buffer, {@code out} right after it ({@code overlap}: one float earlier). */
    private static void sharedBuffer(ApiCall call, Arg other, Arg out, boolean overlap) {
        int start = (int) other.floats() - (overlap ? 1 : 0);
        float[] shared = new float[start + (int) out.floats()];
        Arrays.fill(shared, ApiCall.SENTINEL);
        MemorySegment buf = MemorySegment.ofArray(shared);
        MemorySegment first = buf.asSlice(0, other.floats() * 4);
        first.copyFrom(call.args.get(other.name()).asSlice(0, other.floats() * 4));
        MemorySegment second = buf.asSlice(start * 4L, out.floats() * 4);
        ApiCall c = call.with(other.name(), first).with(out.name(), second);
        if (overlap) {
            IllegalArgumentException e = c.assertFails(IllegalArgumentException.class, " overlaps ",
                    "an output may not share memory with any other argument");
            assertTrue(e.getMessage().startsWith(out.name() + " overlaps " + other.name() + ":")
                            || e.getMessage().startsWith(other.name() + " overlaps " + out.name() + ":"),
                    "message names both arguments: " + e.getMessage());
        } else {
            c.run();
            assertNotEquals(ApiCall.SENTINEL, shared[start], out.name() + " was not written");
        }
    }

    @TestFactory
    Stream<DynamicTest> overlapIsDetectedInNativeMemoryToo() {
        return Stream.of(dynamicTest("forward: y overlaps x in one native segment", () -> {
            try (CallFixture f = new CallFixture(NonFinitePolicy.PROPAGATE); Arena arena = Arena.ofConfined()) {
                ApiCall call = f.forward(false);
                long x = call.arg("x").floats(), y = call.arg("y").floats();
                MemorySegment buf = arena.allocate((x + y) * 4, 4);
                MemorySegment xs = buf.asSlice(0, x * 4).copyFrom(call.args.get("x"));
                call.with("x", xs).with("y", buf.asSlice((x - 2) * 4, y * 4))
                        .assertFails(IllegalArgumentException.class, "y overlaps x");
                call.with("x", xs).with("y", buf.asSlice(x * 4, y * 4)).run();
            }
        }));
    }

    /** Under REJECT, a NaN or infinity in any input is rejected naming the argument and the element. */
    @TestFactory
    Stream<DynamicTest> everyNonFiniteInputIsRejectedUnderReject() {
        List<DynamicTest> tests = new ArrayList<>();
        try (CallFixture probe = new CallFixture(NonFinitePolicy.REJECT)) {
            for (Op op : Op.values()) {
                for (Arg a : probe.call(op).inputs()) {
                    float[] bad = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY};
                    for (int v = 0; v < bad.length; v++) {
                        float value = bad[v];
                        long index = v == 0 ? a.floats() - 1 : v == 1 ? 0 : a.floats() / 2;
                        tests.add(dynamicTest(op + ": " + a.name() + "[" + index + "] = " + value, () -> {
                            try (CallFixture f = new CallFixture(NonFinitePolicy.REJECT)) {
                                ApiCall call = f.call(op);
                                MemorySegment s = call.resized(a.name(), 0);
                                s.setAtIndex(ValueLayout.JAVA_FLOAT, index, value);
                                call.with(a.name(), s).assertFails(IllegalArgumentException.class,
                                        a.name() + ": element " + index + " is " + value + " (NonFinitePolicy.REJECT)");
                            }
                        }));
                    }
                }
            }
        }
        return tests.stream();
    }

    @TestFactory
    Stream<DynamicTest> rejectScansOnlyTheInputsWithinTheirShape() {
        // NaN in an output's old contents, or past the end of an input's shape, is none of the call's business.
        List<DynamicTest> tests = new ArrayList<>();
        for (Op op : Op.values()) {
            tests.add(dynamicTest(op + ": NaN in outputs and past the shapes of inputs", () -> {
                try (CallFixture f = new CallFixture(NonFinitePolicy.REJECT)) {
                    ApiCall call = f.call(op);
                    for (Arg a : call.spec) {
                        MemorySegment s = call.resized(a.name(), 1);
                        s.setAtIndex(ValueLayout.JAVA_FLOAT, a.floats(), Float.NaN);
                        if (a.output()) s.setAtIndex(ValueLayout.JAVA_FLOAT, 0, Float.NaN);
                        call = call.with(a.name(), s);
                    }
                    call.run();
                    for (Arg a : call.outputs()) {
                        for (float v : call.read(a.name())) assertTrue(Float.isFinite(v), a.name() + " = " + v);
                    }
                }
            }));
        }
        return tests.stream();
    }

    private static Op opOf(ApiCall call) {
        return switch (call.method) {
            case "pack" -> Op.PACK;
            case "forward" -> Op.FORWARD;
            case "forwardTraining" -> Op.FORWARD_TRAINING;
            case "backward" -> Op.BACKWARD;
            case "cellForward" -> Op.CELL_FORWARD;
            default -> Op.CELL_BACKWARD;
        };
    }

    static void assertOutputsEqual(Map<String, float[]> expected, Map<String, float[]> actual) {
        assertEquals(expected.keySet(), actual.keySet(), "outputs given");
        expected.forEach((name, v) -> assertArrayEquals(v, actual.get(name), name));
    }
}
