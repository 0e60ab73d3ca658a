using ScoringPlatform.Api;
using ScoringPlatform.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults("api");
builder.AddApi();

var app = builder.Build();
app.MapApi();
app.Run();

public partial class Program;
