package org.lstmk.api;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * One call of the public API with all its buffer arguments held by the names the API uses in its messages
 * ({@code "x"}, {@code "initial.h"}, {@code "gradients.dWih"}...), so that a rule can be tried on every argument of
 * every call. Outputs start filled with {@link #SENTINEL}; {@link #assertFails} checks that a rejected call changed
 * no byte of any argument (outputs untouched, inputs too) and no state of the workspace.
 */
final class ApiCall {
    static final float SENTINEL = 12345f;

    /** An argument: its name in messages, its float count, its shape as messages print it. */
    record Arg(String name, long floats, String shape, boolean output, boolean required) {}

    final String method;
    final List<Arg> spec;
    final Map<String, MemorySegment> args;
    private final Consumer<Map<String, MemorySegment>> invoker;
    private final Supplier<String> sideState;

    ApiCall(String method, List<Arg> spec, Map<String, MemorySegment> args,
            Consumer<Map<String, MemorySegment>> invoker, Supplier<String> sideState) {
        this.method = method;
        this.spec = spec;
        this.args = args;
        this.invoker = invoker;
        this.sideState = sideState;
    }

    /** The same call with argument {@code name} replaced (null: not given). */
    ApiCall with(String name, MemorySegment segment) {
        assertTrue(args.containsKey(name), method + " has no argument " + name);
        Map<String, MemorySegment> copy = new LinkedHashMap<>(args);
        copy.put(name, segment);
        return new ApiCall(method, spec, copy, invoker, sideState);
    }

    Arg arg(String name) {
        return spec.stream().filter(a -> a.name.equals(name)).findFirst().orElseThrow();
    }

    List<Arg> inputs() { return spec.stream().filter(a -> !a.output).toList(); }

    List<Arg> outputs() { return spec.stream().filter(a -> a.output).toList(); }

    void run() { invoker.accept(args); }

    /** Runs the call expecting {@code type} with every fragment in its message; checks that nothing changed. */
    <T extends Throwable> T assertFails(Class<T> type, String... fragments) {
        Map<String, byte[]> before = snapshot();
        String stateBefore = sideState.get();
        T e = assertThrows(type, this::run, method + " should have failed");
        for (String f : fragments) {
            assertTrue(e.getMessage() != null && e.getMessage().contains(f),
                    method + ": message \"" + e.getMessage() + "\" should contain \"" + f + "\"");
        }
        assertUnchanged(before);
        assertEquals(stateBefore, sideState.get(), method + ": a rejected call changed the workspace");
        return e;
    }

    /** Every argument's bytes, for those still alive. */
    Map<String, byte[]> snapshot() {
        Map<String, byte[]> s = new LinkedHashMap<>();
        args.forEach((name, seg) -> {
            if (seg != null && seg.scope().isAlive()) s.put(name, seg.toArray(ValueLayout.JAVA_BYTE));
        });
        return s;
    }

    void assertUnchanged(Map<String, byte[]> before) {
        before.forEach((name, bytes) -> assertArrayEquals(bytes, args.get(name).toArray(ValueLayout.JAVA_BYTE),
                method + ": a rejected call modified " + name));
    }

    /** The first {@code floats(name)} floats of an argument. */
    float[] read(String name) {
        return args.get(name).asSlice(0, arg(name).floats * Float.BYTES).toArray(ValueLayout.JAVA_FLOAT);
    }

    /** A heap copy of an argument's contents with {@code delta} floats more (padded with the sentinel) or fewer. */
    MemorySegment resized(String name, int delta) {
        float[] a = new float[Math.toIntExact(arg(name).floats + delta)];
        java.util.Arrays.fill(a, SENTINEL);
        MemorySegment s = MemorySegment.ofArray(a);
        long n = Math.min(a.length, arg(name).floats) * Float.BYTES;
        s.asSlice(0, n).copyFrom(args.get(name).asSlice(0, n));
        return s;
    }

    /** A copy of an argument in native memory of {@code arena}, starting {@code byteOffset} bytes into it. */
    MemorySegment nativeCopy(String name, Arena arena, long byteOffset) {
        long bytes = arg(name).floats * Float.BYTES;
        MemorySegment s = arena.allocate(bytes + 8, 8).asSlice(byteOffset, bytes);
        s.copyFrom(args.get(name).asSlice(0, bytes));
        return s;
    }

    /** Every output's current contents, by name (for outputs given). */
    Map<String, float[]> outputValues() {
        Map<String, float[]> m = new LinkedHashMap<>();
        for (Arg a : outputs()) if (args.get(a.name) != null) m.put(a.name, read(a.name));
        return m;
    }

    @Override public String toString() { return method; }

    /** Builds a call's spec and buffers: inputs from {@code values}, outputs filled with the sentinel. */
    static final class Builder {
        private final List<Arg> spec = new ArrayList<>();
        private final Map<String, MemorySegment> args = new LinkedHashMap<>();

        Builder in(String name, long floats, String shape, boolean required, float[] values) {
            assertEquals(floats, values.length, name);
            spec.add(new Arg(name, floats, shape, false, required));
            args.put(name, MemorySegment.ofArray(values.clone()));
            return this;
        }

        Builder out(String name, long floats, String shape, boolean required) {
            float[] a = new float[Math.toIntExact(floats)];
            java.util.Arrays.fill(a, SENTINEL);
            spec.add(new Arg(name, floats, shape, true, required));
            args.put(name, MemorySegment.ofArray(a));
            return this;
        }

        ApiCall build(String method, Consumer<Map<String, MemorySegment>> invoker, Supplier<String> sideState) {
            return new ApiCall(method, List.copyOf(spec), args, invoker, sideState);
        }
    }
}
