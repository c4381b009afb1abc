package org.lstmk.bench.jmh;

import java.util.concurrent.TimeUnit;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The machine's FMA ceiling as the Vector API reaches it: 12 independent register accumulators (more than latency ×
 * pipes on any current x86), nothing but {@code fma} in the loop. Score is FMA instructions per microsecond; GFLOP/s
 * = score × lanes × 2 / 1000 per thread. Run with {@code -t 1} and {@code -t 2} for one and both cores: the % of
 * peak quoted in bench/results uses this number measured on the same machine, not a datasheet.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class FmaPeakBenchmark {
    private static final int ROUNDS = 1 << 12;

    /** Vector width in bits: 256 (AVX2) or 512 (AVX-512). */
    @Param({"256", "512"})
    public int bits;

    private VectorSpecies<Float> species;
    private float[] seed;

    @Setup
    public void setUp() {
        species = bits == 512 ? FloatVector.SPECIES_512 : FloatVector.SPECIES_256;
        seed = new float[species.length() * 14];
        for (int i = 0; i < seed.length; i++) seed[i] = 1e-3f * (i % 7);
    }

    @Benchmark
    @OperationsPerInvocation(ROUNDS * 12)
    public float fma() {
        VectorSpecies<Float> s = species;
        int l = s.length();
        FloatVector a = FloatVector.fromArray(s, seed, 0), b = FloatVector.fromArray(s, seed, l);
        FloatVector c0 = FloatVector.fromArray(s, seed, 2 * l), c1 = FloatVector.fromArray(s, seed, 3 * l);
        FloatVector c2 = FloatVector.fromArray(s, seed, 4 * l), c3 = FloatVector.fromArray(s, seed, 5 * l);
        FloatVector c4 = FloatVector.fromArray(s, seed, 6 * l), c5 = FloatVector.fromArray(s, seed, 7 * l);
        FloatVector c6 = FloatVector.fromArray(s, seed, 8 * l), c7 = FloatVector.fromArray(s, seed, 9 * l);
        FloatVector c8 = FloatVector.fromArray(s, seed, 10 * l), c9 = FloatVector.fromArray(s, seed, 11 * l);
        FloatVector c10 = FloatVector.fromArray(s, seed, 12 * l), c11 = FloatVector.fromArray(s, seed, 13 * l);
        for (int r = 0; r < ROUNDS; r++) {
            c0 = a.fma(b, c0); c1 = a.fma(b, c1); c2 = a.fma(b, c2); c3 = a.fma(b, c3);
            c4 = a.fma(b, c4); c5 = a.fma(b, c5); c6 = a.fma(b, c6); c7 = a.fma(b, c7);
            c8 = a.fma(b, c8); c9 = a.fma(b, c9); c10 = a.fma(b, c10); c11 = a.fma(b, c11);
        }
        return c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7).add(c8).add(c9).add(c10).add(c11)
                .reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
    }
}
