package org.lstmk.cuda;

/** Grid or block dimensions of a kernel launch. Validity (limits) is the device's to check, as CUDA does. */
public record Dim3(int x, int y, int z) {
    public static Dim3 of(int x) { return new Dim3(x, 1, 1); }

    public static Dim3 of(int x, int y) { return new Dim3(x, y, 1); }

    @Override public String toString() { return x + "x" + y + "x" + z; }
}
