/* Shared main of the unit-test executables (STYLE.md 8): each one is built
 * with -DSUITE_FN=<module>_suite and runs that suite in check's default fork
 * mode, so a crash fails one test rather than the whole run. */
#include <stdlib.h>

#include <check.h>

#ifndef SUITE_FN
#error "build with -DSUITE_FN=<module>_suite"
#endif

Suite *SUITE_FN(void);

int
main(void)
{
    SRunner *sr = srunner_create(SUITE_FN());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
