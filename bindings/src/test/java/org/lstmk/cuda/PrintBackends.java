package org.lstmk.cuda;

import org.lstmk.api.BackendInfo;
import org.lstmk.api.Lstm;

/** Prints every backend as "name|usable|detail": run in a child JVM by {@link ProviderClassPathTest}. */
public final class PrintBackends {
    private PrintBackends() {}

    public static void main(String[] args) {
        for (BackendInfo b : Lstm.backends()) System.out.println(b.name() + "|" + b.usable() + "|" + b.detail());
    }
}
