package org.lstmk.cuda;

import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.lstmk.verify.ConformanceSuite;
import org.lstmk.verify.ConformanceSuite.Case;

/**
 * The conformance matrix (layers, directions, lengths, and the cell features this backend supports) on the CUDA
 * kernels through the host build, against the reference. The plain single-layer cases are
 * {@link CudaHostConformanceTest}'s. The cases with variable lengths reach the backend as packed calls, one per
 * layer-direction ({@link CudaBackend#packedSequences()}; the calls themselves: {@link CudaHostPackedTest}).
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class CudaHostMatrixTest {
    static Stream<Case> matrixCases() {
        return ConformanceSuite.supported(ConformanceSuite.matrix(), CudaHostProvider.NAME).stream()
                .filter(c -> !c.features().equals(ConformanceSuite.Features.PLAIN));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("matrixCases")
    void matrixCasesAgreeWithTheReference(Case c) {
        CudaHostConformanceTest.assertPasses(c);
    }
}
