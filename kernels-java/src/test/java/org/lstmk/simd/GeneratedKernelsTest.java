package org.lstmk.simd;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.lstmk.simd.gen.CellKernelGenerator;
import org.lstmk.simd.gen.MicroKernelGenerator;

/** The committed generated kernels are exactly what their generators produce (regenerate with their mains). */
class GeneratedKernelsTest {
    @Test
    void committedKernelsAreCurrent() throws IOException {
        check("MicroKernels", MicroKernelGenerator.generate(), MicroKernelGenerator.class.getName());
    }

    @Test
    void committedCellIsCurrent() throws IOException {
        check("PlainForwardCell", CellKernelGenerator.generate(), CellKernelGenerator.class.getName());
    }

    private static void check(String name, String generated, String generator) throws IOException {
        Path file = Path.of("src/main/java/org/lstmk/simd/" + name + ".java");
        String committed = Files.readString(file, StandardCharsets.UTF_8);
        assertEquals(generated, committed, name + ".java is stale: run " + generator
                + " (kernels-java test classes) with the path of " + file.toAbsolutePath());
    }
}
