/* Calls a function no source defines: the JIT must name it. */
int not_here(int x);

int calls_missing(int x)
{
    return not_here(x) + 1;
}
