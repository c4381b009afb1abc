package org.lstmk.cuda;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.lstmk.reference.ReferenceBackend;
import org.lstmk.verify.NonFiniteProblem;

/**
 * IEEE semantics of the CUDA kernels (through the host build) against the reference, on the cases of the SIMD
 * backend's {@code SimdNonFiniteTest} ({@link NonFiniteProblem}): ±∞ and NaN in {@code x} (and in the padding of
 * variable-length batches), {@code h0}, {@code c0}, the weights and the bias, for H = 7, 17 and 16 (the kernels tile
 * units by 8: partial tiles at 7 and 17), odd I, uniform and variable lengths, plain, peepholes with clip and
 * projection. Every output of training forward, backward and inference has NaN exactly where the reference has, the
 * same infinities, and finite values within tolerance.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class CudaHostNonFiniteTest {
    @AfterEach
    void restoreSchedule() {
        HostDevice.schedule(HostDevice.Schedule.ASCENDING);
    }

    static List<NonFiniteProblem> cases() {
        return NonFiniteProblem.cases(new int[] {7, 17, 16}, 7000);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void agreesWithTheReference(NonFiniteProblem p) {
        NonFiniteProblem.Outputs ref = p.run(ReferenceBackend.NAME, 1);
        NonFiniteProblem.Outputs host = p.run(CudaHostProvider.NAME, 1);
        String failed = NonFiniteProblem.failures(p.compare(host, ref));
        assertTrue(failed.isEmpty(), "cuda-host differs from the reference on " + p + failed);
    }
}
