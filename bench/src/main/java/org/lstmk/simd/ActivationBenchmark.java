package org.lstmk.simd;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The SIMD backend's sigmoid and tanh ({@link Activations#apply}, exactly as the cell kernels call it) against the Vector API's own {@code EXP} and
 * {@code TANH} (out-of-line SVML-style stubs), on 4096 floats per operation, ordinary ({@code scale=4}) and
 * saturating ({@code scale=100}) inputs. Lives in {@code org.lstmk.simd} (in the bench module) because the
 * activations are package-private kernels and the Vector API stays inside this package.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class ActivationBenchmark {
    @Param({"4", "100"})
    public float scale;

    private final float[] x = new float[4096];
    private final float[] y = new float[4096];
    /** Native, 64-byte aligned copies: what the kernels apply the activations to. */
    private MemorySegment xs, ys;
    private static final FloatVector ONE = FloatVector.broadcast(SimdSpecies.FLOAT, 1f);

    @Setup
    public void setUp() {
        SplittableRandom r = new SplittableRandom(5);
        for (int i = 0; i < x.length; i++) x[i] = (float) ((r.nextDouble() * 2 - 1) * scale);
        xs = Arena.global().allocate(4L * x.length, 64);
        ys = Arena.global().allocate(4L * x.length, 64);
        MemorySegment.copy(x, 0, xs, ValueLayout.JAVA_FLOAT, 0, x.length);
    }

    @Benchmark
    public MemorySegment sigmoidOwn() {
        Activations.activate(xs, 0, SimdSpecies.VB, ys, 0, SimdSpecies.VB, x.length / SimdSpecies.L, 0, 1, null, 0, 0);
        return ys;
    }

    @Benchmark
    public float[] sigmoidVectorApiExp() {
        for (int i = 0; i < x.length; i += SimdSpecies.L) {
            FloatVector v = FloatVector.fromArray(SimdSpecies.FLOAT, x, i);
            ONE.div(v.neg().lanewise(VectorOperators.EXP).add(1f)).intoArray(y, i);
        }
        return y;
    }

    @Benchmark
    public MemorySegment tanhOwn() {
        Activations.activate(xs, 0, SimdSpecies.VB, ys, 0, SimdSpecies.VB, x.length / SimdSpecies.L, 0, 0, null, 0, 0);
        return ys;
    }

    @Benchmark
    public float[] tanhVectorApi() {
        for (int i = 0; i < x.length; i += SimdSpecies.L) {
            FloatVector.fromArray(SimdSpecies.FLOAT, x, i).lanewise(VectorOperators.TANH).intoArray(y, i);
        }
        return y;
    }
}
