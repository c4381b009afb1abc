package org.lstmk.simd;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.lstmk.simd.gen.MicroKernelGenerator;

/** The committed {@code MicroKernels.java} is exactly what the generator produces (regenerate with its main). */
class GeneratedKernelsTest {
    @Test
    void committedKernelsAreCurrent() throws IOException {
        Path file = Path.of("src/main/java/org/lstmk/simd/MicroKernels.java");
        String committed = Files.readString(file, StandardCharsets.UTF_8);
        assertEquals(MicroKernelGenerator.generate(), committed, "MicroKernels.java is stale: run "
                + "org.lstmk.simd.gen.MicroKernelGenerator (kernels-java test classes) with the path of " + file.toAbsolutePath());
    }
}
