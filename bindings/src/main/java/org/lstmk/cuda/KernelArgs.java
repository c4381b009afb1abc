package org.lstmk.cuda;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The arguments of one kernel launch, in order, as {@code cuLaunchKernel} takes them. {@link #signature()} spells
 * their types one letter each ({@code p} float*, {@code i} int, {@code l} long long, {@code f} float); the host
 * build checks it against the kernel's C++ parameter list, so a Java call that drifts from the kernel fails in CI.
 */
public final class KernelArgs {
    /** One argument. */
    public sealed interface Arg permits Pointer, Int, Long, Float {}

    /** A {@code float*}; {@code at == null} is a null pointer. */
    public record Pointer(DevicePointer at) implements Arg {}

    public record Int(int value) implements Arg {}

    public record Long(long value) implements Arg {}

    public record Float(float value) implements Arg {}

    private final List<Arg> args = new ArrayList<>();
    private final StringBuilder signature = new StringBuilder();

    /** A pointer argument, or a null pointer when {@code at} is null. */
    public KernelArgs ptr(DevicePointer at) {
        return add(new Pointer(at), 'p');
    }

    /** A pointer to the start of {@code buffer}, or a null pointer when {@code buffer} is null. */
    public KernelArgs ptr(DeviceBuffer buffer) {
        return ptr(buffer == null ? null : new DevicePointer(buffer, 0));
    }

    public KernelArgs i32(int v) {
        return add(new Int(v), 'i');
    }

    public KernelArgs i64(long v) {
        return add(new Long(v), 'l');
    }

    public KernelArgs f32(float v) {
        return add(new Float(v), 'f');
    }

    public List<Arg> list() {
        return Collections.unmodifiableList(args);
    }

    public String signature() {
        return signature.toString();
    }

    /** Equal when the same arguments come in the same order (pointers: the same buffer at the same offset). */
    @Override
    public boolean equals(Object o) {
        return o instanceof KernelArgs k && k.args.equals(args);
    }

    @Override
    public int hashCode() {
        return args.hashCode();
    }

    private KernelArgs add(Arg a, char code) {
        args.add(a);
        signature.append(code);
        return this;
    }
}
